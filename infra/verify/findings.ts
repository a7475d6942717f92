/**
 * What verify finds: per check, the field that differs with what the release
 * says it should be and what AWS or the registry says it is. Plain data, so
 * the report, release's own checks and the tests read the same thing.
 */

export interface Finding {
	/** The system the finding is about; none for a region's own settings (image block public access, a stray parameter). */
	system?: string;
	/** What was checked: "AMI ami-…", "snapshot snap-…", "SSM parameter /…", "image block public access". */
	subject: string;
	field: string;
	expected: string;
	actual: string;
}

/** One field compared: a finding when they differ. */
export function compare(
	findings: Finding[],
	base: Pick<Finding, "system" | "subject">,
	field: string,
	expected: string,
	actual: string | undefined,
): void {
	if (expected !== actual) findings.push({ ...base, field, expected, actual: actual ?? "(none)" });
}
