/**
 * The forms of the values this project writes into release.json and shows on
 * its pages: a file read back is checked against them before anything of it
 * is shown or acted on, so a value of another form (a region that is a URL,
 * a parameter name that is a shell command) never reaches a page or a command.
 */

export const FORMATS = {
	/** An AWS region name: us-east-1, ap-southeast-2, us-gov-west-1. */
	region: /^[a-z]{2}(-[a-z]+)+-\d{1,2}$/,
	amiId: /^ami-[0-9a-f]{8,17}$/,
	snapshotId: /^snap-[0-9a-f]{8,17}$/,
	/** An SSM parameter name of a path: /a/b/c, at most 1011 characters. */
	ssmParameter: /^(\/[A-Za-z0-9_.-]+){1,15}$/,
	digest: /^sha256:[0-9a-f]{64}$/,
	/** A file's SHA-256 as 64 hex digits (the disk image's, its AMIs' ImageSha256 tag). */
	sha256: /^[0-9a-f]{64}$/,
	/** The start of an image's SHA-256 (names.ts). */
	buildId: /^[0-9a-f]{16}$/,
	/** A release's id: the start of a SHA-256 of its builds. */
	releaseId: /^[0-9a-f]{12}$/,
	/** A NixOS label or a Nix version: 26.05.20260616.567a49d, 2.31.2. */
	version: /^[0-9A-Za-z][\w.+-]{0,63}$/,
	/** A release's version: `<label>-<release id>`. */
	releaseVersion: /^[0-9A-Za-z][\w.+-]{0,63}-[0-9a-f]{12}$/,
	/** A Docker tag. */
	tag: /^\w[\w.-]{0,127}$/,
	/** A registry repository: host[:port]/path. */
	repository: /^[a-z0-9.-]+(:\d{1,5})?(\/[a-z0-9]+([._-][a-z0-9]+)*)+$/,
	stackName: /^[A-Za-z][A-Za-z0-9-]{0,127}$/,
	/** What EC2 allows in an AMI name. */
	amiName: /^[A-Za-z0-9()[\] ./\-'@_]{3,128}$/,
	imageBuilderImage: /^arn:aws[a-z-]*:imagebuilder:[a-z0-9-]+:\d{12}:image\/[a-z0-9._/-]+$/,
	/** A time as this project writes them: ISO 8601 in UTC (toISOString). */
	time: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,3})?Z$/,
} as const;

export type Format = keyof typeof FORMATS;

/** Whether `value` is a string of `format` (for times, also a real date). */
export function matches(format: Format, value: unknown): value is string {
	if (typeof value !== "string" || !FORMATS[format].test(value)) return false;
	return format !== "time" || !Number.isNaN(Date.parse(value));
}
