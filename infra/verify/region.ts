/**
 * One region of a release, checked as users there get it: the AMIs and
 * their snapshots, image block public access where the AMIs are public, and
 * the stack's SSM parameters. EC2 and SSM are eventually consistent (a copy
 * or a parameter written a moment ago may not show yet), so a region whose
 * checks fail is looked at again with backoff for up to `retryForMs` before
 * the findings count. Only reads.
 */
import { type EC2Client, GetImageBlockPublicAccessStateCommand } from "@aws-sdk/client-ec2";
import type { SSMClient } from "@aws-sdk/client-ssm";
import type { AwsCalls } from "../sdk/calls.ts";
import { describeAwsRefusal } from "../sdk/errors.ts";
import type { Finding } from "./findings.ts";
import { checkImages, type ExpectedImage } from "./images.ts";
import { parameterFindings, parametersUnder } from "./parameters.ts";

export interface RegionExpectation {
	region: string;
	images: ExpectedImage[];
	/** Whether the release's AMIs are public here: image block public access must then be off. */
	publicAmis: boolean;
	/** The parameters to check, or undefined when a newer release owns them (superseded). */
	parameters?: {
		/** The stack's path: /nix-images/<stack>/ */
		path: string;
		expected: { system: string; name: string; imageId: string }[];
		/** Every name the stack declares (AmiParameterNames): anything else under the path is unexpected. */
		known: ReadonlySet<string>;
	};
}

export interface RegionResult {
	region: string;
	findings: Finding[];
	/** Why the region could not be checked (it did not answer, or refused): then findings are incomplete. */
	unchecked?: string;
	/** imageId → root snapshot id, of the AMIs that exist. */
	rootSnapshots: Map<string, string>;
	/** How many times the region was looked at (1 when everything held at once). */
	looks: number;
}

export interface RegionClients {
	calls: AwsCalls;
	ec2: EC2Client;
	ssm: SSMClient;
}

/** What one look at the region found; `unchecked` names the parts that did not answer. */
type Look = Omit<RegionResult, "looks" | "region">;

/**
 * Everything of the region once, its requests at once where they do not
 * depend on each other. A part that does not answer leaves the others'
 * findings standing: a mismatch found is never hidden by an outage elsewhere.
 */
async function lookOnce(
	{ calls, ec2, ssm }: RegionClients,
	expectation: RegionExpectation,
): Promise<Look> {
	const [images, access, parameters] = await Promise.allSettled([
		checkImages(calls, ec2, expectation.images),
		expectation.publicAmis
			? calls.read(ec2, new GetImageBlockPublicAccessStateCommand({}))
			: Promise.resolve(undefined),
		expectation.parameters
			? parametersUnder(calls, ssm, expectation.parameters.path)
			: Promise.resolve(undefined),
	]);
	const findings: Finding[] = [];
	const unanswered: string[] = [];
	if (images.status === "fulfilled") findings.push(...images.value.findings);
	else unanswered.push(`the AMIs (${uncheckedReason(images.reason)})`);
	if (access.status === "rejected") {
		unanswered.push(`image block public access (${uncheckedReason(access.reason)})`);
	} else if (
		access.value !== undefined &&
		access.value.ImageBlockPublicAccessState !== "unblocked"
	) {
		findings.push({
			subject: "image block public access",
			field: "state",
			expected: "unblocked (the AMIs are public)",
			actual: access.value.ImageBlockPublicAccessState ?? "(none)",
		});
	}
	if (parameters.status === "rejected") {
		unanswered.push(`the SSM parameters (${uncheckedReason(parameters.reason)})`);
	} else if (parameters.value !== undefined && expectation.parameters) {
		findings.push(
			...parameterFindings(
				parameters.value,
				expectation.parameters.expected,
				expectation.parameters.known,
			),
		);
	}
	return {
		findings,
		rootSnapshots: images.status === "fulfilled" ? images.value.rootSnapshots : new Map(),
		...(unanswered.length > 0 ? { unchecked: unanswered.join("; ") } : {}),
	};
}

/** Why a check could not be made, as one clause: AWS's refusal, or what the retries ended with. */
export function uncheckedReason(error: unknown): string {
	const text =
		describeAwsRefusal(error) ?? (error instanceof Error ? error.message : String(error));
	return text.replace(/\.$/, "");
}

/**
 * The region checked, and checked again while anything fails, until it all
 * holds or `retryForMs` has passed since the first look (waits of 1, 2, 4 …
 * at most 10 s). A part of the region that does not answer (the retry
 * budget's attempts spent, or a refusal) is unchecked, with the reason,
 * beside what the other parts found.
 */
export async function checkRegion(
	clients: RegionClients,
	expectation: RegionExpectation,
	retryForMs: number,
	sleep: (ms: number) => Promise<void> = (ms) => Bun.sleep(ms),
): Promise<RegionResult> {
	const started = Date.now();
	for (let looks = 1, delay = 1000; ; looks++, delay = Math.min(delay * 2, 10_000)) {
		const seen = await lookOnce(clients, expectation);
		const left = retryForMs - (Date.now() - started);
		// A part that did not answer ends the looking: what answered is reported with it.
		if (seen.findings.length === 0 || seen.unchecked !== undefined || left <= 0) {
			return { region: expectation.region, ...seen, looks };
		}
		await sleep(Math.min(delay, left));
	}
}
