/**
 * `verify`: a release checked where users get it (tasks/verify/run.ts) — in
 * every region at once, the container in its registry, with `--deep` the
 * source snapshots' bytes — against what release.json says. A table on
 * stdout (or JSON with --json) and in the GitHub step summary; exit 0 only
 * when every check holds, 1 on a mismatch, 2 on usage errors, 3 when
 * something could not be checked. Reads only, here and in AWS.
 */
import { existsSync, realpathSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import type { TrustMaterial } from "@sigstore/verify";
import { parametersUnder } from "../infra/verify/parameters.ts";
import { HOME_REGION } from "../infra/vocabulary.ts";
import { type AwsSession, withDeployedStack } from "./aws/session.ts";
import { cdkContext, stackSettings } from "./cdk/context.ts";
import { durationOption } from "./project/durations.ts";
import { readJson } from "./project/files.ts";
import type { VerifyTaskOptions } from "./project/options.ts";
import { releaseOutput } from "./project/outputs.ts";
import { REPOSITORY } from "./provenance/bundles.ts";
import { currentManifest } from "./release/current.ts";
import type { ReleaseManifest } from "./release/manifest.ts";
import { checkManifest } from "./release/manifest-check.ts";
import { TaskError, UsageError } from "./runner/errors.ts";
import { appendStepSummary } from "./runner/github.ts";
import type { TaskContext } from "./runner/task.ts";
import { checkSnapshotContents } from "./verify/deep.ts";
import { checkProvenance, readTrustedRoot } from "./verify/provenance.ts";
import {
	exitCodeOf,
	reportJson,
	reportMarkdown,
	reportTable,
	type VerifyReport,
	verdictSentence,
} from "./verify/report.ts";
import { MAX_RETRY_FOR_MS, VERIFY_RETRY_POLICY, verifyRelease } from "./verify/run.ts";

/** The release.json to check: --release FILE, else the current one. */
function releaseToCheck(
	root: string,
	given: string | undefined,
): { path: string; manifest: ReleaseManifest } {
	const path = given === undefined ? releaseOutput(root).json : resolve(given);
	const shown = relative(root, path) || path;
	if (!existsSync(path)) {
		throw new UsageError(
			given === undefined
				? `There is no ${shown} to verify: release first, or name one with --release FILE (the pipeline publishes the current one beside the release page as release.json).`
				: `--release names ${given}, which does not exist; name a release.json that release wrote.`,
		);
	}
	try {
		return { path, manifest: checkManifest(readJson(path), shown) };
	} catch (error) {
		// A file that is no release is a mistake in what verify was given: exit 2, as usage errors.
		if (error instanceof TaskError) throw new UsageError(error.message);
		throw error;
	}
}

/**
 * Whether `checked` is the release users get now, and if not, which one is:
 * the current release is outputs/main/release.json (the pipeline downloads
 * the published one there). A --release FILE on a machine without it is
 * current when the stack's SSM parameters in the home region name its
 * copies there (AWS says which release users get), else superseded.
 */
async function supersededBy(
	root: string,
	path: string,
	checked: ReleaseManifest,
	session: AwsSession,
): Promise<string | undefined> {
	const currentPath = releaseOutput(root).json;
	if (existsSync(currentPath)) {
		if (realpathSync(currentPath) === realpathSync(path)) return undefined;
		const current = currentManifest(root);
		if (current) {
			return current.releaseId === checked.releaseId
				? undefined
				: `the current release ${current.version}`;
		}
	}
	const systems = Object.values(checked.amis);
	if (systems.length === 0) return undefined;
	const parameters = await parametersUnder(
		session.calls,
		session.clients.ssmIn(HOME_REGION),
		`/nix-images/${checked.stack}`,
	);
	const named = systems.some(
		(release) => parameters.get(release.ssmParameter)?.value === release.regions[HOME_REGION],
	);
	return named
		? undefined
		: `the release the stack's SSM parameters name now (${relative(root, currentPath)} is not here)`;
}

/**
 * Where a release's site files are: beside release.json as the pipeline
 * publishes it (and as --release FILE names a downloaded one), but for the
 * current release on this machine, outputs/main/release/, where release
 * writes them beside the page.
 */
function siteOf(root: string, path: string): string {
	const output = releaseOutput(root);
	return existsSync(output.json) && realpathSync(output.json) === realpathSync(path)
		? output.dir
		: dirname(path);
}

/** The signer and the trust --provenance checks against, or a usage error saying what to give. */
function provenanceInputs(
	root: string,
	options: VerifyTaskOptions,
): { repository: string; trust: TrustMaterial } {
	const repository =
		options.repository ??
		stackSettings(cdkContext(root)).githubRepository ??
		(process.env.GITHUB_REPOSITORY || undefined);
	if (repository === undefined || !REPOSITORY.test(repository)) {
		throw new UsageError(
			repository === undefined
				? "--provenance needs the GitHub repository whose pipeline signed the release: pass --repository owner/name (or set githubRepository in cdk.json's context)."
				: `--repository ${repository} is not a GitHub repository; pass it as owner/name.`,
		);
	}
	const file = options["trusted-root"];
	if (file === undefined) {
		throw new UsageError(
			"--provenance needs Sigstore's trusted root: write it with `gh attestation trusted-root > trusted_root.jsonl` and pass --trusted-root trusted_root.jsonl.",
		);
	}
	try {
		return { repository, trust: readTrustedRoot(resolve(file)) };
	} catch (error) {
		throw new UsageError(`--trusted-root: ${(error as Error).message}.`);
	}
}

export default async function verify(context: TaskContext<VerifyTaskOptions>) {
	const { root, options } = context;
	const retryForMs = durationOption(options["retry-for"], "retry-for", MAX_RETRY_FOR_MS, 0);
	const { path, manifest } = releaseToCheck(root, options.release);
	const { stackName } = stackSettings(cdkContext(root));
	if (manifest.stack !== stackName) {
		throw new UsageError(
			`${relative(root, path) || path} is a release of the stack ${manifest.stack}, and this checkout's stackName is ${stackName}; set stackName to ${manifest.stack} in cdk.json's "context" to verify it, or name a release of ${stackName}.`,
		);
	}
	// Before AWS: what --provenance needs from the user.
	const provenance = options.provenance ? provenanceInputs(root, options) : undefined;
	let report: VerifyReport;
	try {
		report = await withDeployedStack(
			context,
			stackName,
			async (session) => {
				const newer = await supersededBy(root, path, manifest, session);
				const checked = await verifyRelease(context, session, manifest, {
					...(newer ? { supersededBy: newer } : {}),
					movingTags: true,
					retryForMs,
				});
				const deep = options.deep
					? await checkSnapshotContents(context, session, manifest, checked.sourceSnapshots)
					: undefined;
				return {
					...checked.report,
					...(deep ? { deep } : {}),
					...(provenance
						? {
								provenance: checkProvenance({
									manifest,
									releasePath: path,
									site: siteOf(root, path),
									...provenance,
									...(deep ? { deep } : {}),
								}),
							}
						: {}),
				};
			},
			VERIFY_RETRY_POLICY,
		);
	} catch (error) {
		// Nothing could be checked (no stack, AWS not answering): that is exit 3, not a mismatch.
		if (error instanceof TaskError && error.exitCode === 1) throw new TaskError(error.message, 3);
		throw error;
	}
	process.stdout.write(
		options.json ? `${JSON.stringify(reportJson(report), null, 2)}\n` : `${reportTable(report)}\n`,
	);
	appendStepSummary(reportMarkdown(report));
	const code = exitCodeOf(report);
	if (code !== 0) throw new TaskError(verdictSentence(report), code);
}
