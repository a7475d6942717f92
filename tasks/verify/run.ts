/**
 * A release checked where users get it (see ../verify.ts): every region at
 * once, each paced to at most 10 requests a second and looked at again for
 * eventual consistency; the container at the same time. What `verify`
 * reports (it adds --deep's read-back, deep.ts, which release never makes,
 * so release's code reaches no EBS read) and what `release` requires
 * before it moves its public pointers. Only reads.
 */
import { pacePerRegion } from "../../infra/sdk/pace.ts";
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from "../../infra/sdk/retry.ts";
import { checkRegion } from "../../infra/verify/region.ts";
import { HOME_REGION } from "../../infra/vocabulary.ts";
import type { AwsSession } from "../aws/session.ts";
import type { ReleaseManifest } from "../release/manifest.ts";
import type { TaskContext } from "../runner/task.ts";
import { checkContainer } from "./containers.ts";
import { planRegions } from "./plan.ts";
import type { VerifyReport } from "./report.ts";

/** At most this many requests a second per region (EC2's and SSM's limits are per region). */
export const REQUESTS_PER_SECOND = 10;

/**
 * Verify's retries: only reads, so fewer and shorter than a publish's. A
 * region that does not answer is named within seconds, not minutes.
 */
export const VERIFY_RETRY_POLICY: RetryPolicy = {
	...DEFAULT_RETRY_POLICY,
	attemptTimeoutMs: 10_000,
	maxAttempts: 5,
	maxDelayMs: 2_000,
};

/** The longest --retry-for: checks that still fail after ten minutes are not eventual consistency. */
export const MAX_RETRY_FOR_MS = 10 * 60_000;

export interface VerifyOptions {
	/** Whether this is the release users get now: only then are its SSM parameters and moving tags its own. */
	supersededBy?: string;
	/** Check the moving tags (not before release has moved them). */
	movingTags: boolean;
	/** How long failing checks are looked at again (eventual consistency). */
	retryForMs: number;
}

export async function verifyRelease(
	context: TaskContext,
	session: AwsSession,
	manifest: ReleaseManifest,
	options: VerifyOptions,
): Promise<{ report: VerifyReport; sourceSnapshots: Map<string, string> }> {
	const current = options.supersededBy === undefined;
	const plans = planRegions(manifest, session.stack, current);
	const paceOf = pacePerRegion(REQUESTS_PER_SECOND);
	const [regions, container] = await Promise.all([
		Promise.all(
			plans.map(async (plan) => {
				const pace = paceOf(plan.region);
				const result = await checkRegion(
					{
						calls: session.calls.paced(() => pace.turn()),
						ec2: session.clients.ec2In(plan.region),
						ssm: session.clients.ssmIn(plan.region),
					},
					plan,
					options.retryForMs,
				);
				return { ...result, findings: [...plan.unrecorded, ...result.findings] };
			}),
		),
		manifest.containers
			? checkContainer(
					context,
					session,
					manifest.stack,
					manifest.containers,
					options.movingTags && current,
				)
			: Promise.resolve(undefined),
	]);
	const home = regions.find((region) => region.region === HOME_REGION);
	// Each system's source snapshot, as EC2 describes the source AMI: what --deep reads back.
	const sourceSnapshots = new Map(
		Object.entries(manifest.amis).flatMap(([system, release]) => {
			const id = home?.rootSnapshots.get(release.sourceImage.imageId);
			return id === undefined ? [] : [[system, id] as const];
		}),
	);
	const report: VerifyReport = {
		version: manifest.version,
		releaseId: manifest.releaseId,
		stack: manifest.stack,
		...(options.supersededBy ? { supersededBy: options.supersededBy } : {}),
		movingTags: options.movingTags && current,
		systems: Object.keys(manifest.amis).sort(),
		regions: regions.map(({ region, findings, unchecked, looks }) => ({
			region,
			findings,
			looks,
			...(unchecked ? { unchecked } : {}),
		})),
		...(container ? { container } : {}),
	};
	return { report, sourceSnapshots };
}
