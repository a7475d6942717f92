/**
 * The container of a release as the stack's registry serves it: the release
 * tag and (for the current release, once moved) every moving tag serve the
 * recorded index digest; the index lists exactly the recorded platform
 * manifests, each with its platform and digest, and each is served. Only
 * reads, through skopeo with a private login (see skopeo/auth.ts).
 */

import { repositoryUri } from "../../infra/sdk/ecr-public.ts";
import type { Finding } from "../../infra/verify/findings.ts";
import { compare } from "../../infra/verify/findings.ts";
import { uncheckedReason } from "../../infra/verify/region.ts";
import type { AwsSession } from "../aws/session.ts";
import type { ReleaseManifest } from "../release/manifest.ts";
import type { TaskContext } from "../runner/task.ts";
import { registryFiles } from "../skopeo/auth.ts";
import { requireSkopeo, servedManifest } from "../skopeo/cli.ts";

export interface ContainerResult {
	findings: Finding[];
	/** Why the registry could not be checked. */
	unchecked?: string;
	/** The tags looked at. */
	tags: string[];
}

/** Platform ("linux/amd64") → digest, as an index lists its manifests; undefined when it is no index. */
function platformsOf(raw: string): Map<string, string> | undefined {
	try {
		const index = JSON.parse(raw) as {
			manifests?: { digest?: string; platform?: { os?: string; architecture?: string } }[];
		};
		if (!Array.isArray(index.manifests)) return undefined;
		return new Map(
			index.manifests.map((manifest) => [
				`${manifest.platform?.os ?? "?"}/${manifest.platform?.architecture ?? "?"}`,
				manifest.digest ?? "",
			]),
		);
	} catch {
		return undefined;
	}
}

/**
 * `movingTags`: also the moving tags release.json records (false for
 * release's own checks, before it moves them, and for a superseded release).
 */
export async function checkContainer(
	context: TaskContext,
	session: AwsSession,
	stackName: string,
	containers: NonNullable<ReleaseManifest["containers"]>,
	movingTags: boolean,
): Promise<ContainerResult> {
	const tags = [containers.tags.release, ...(movingTags ? containers.tags.moving : [])];
	const findings: Finding[] = [];
	try {
		requireSkopeo();
		const repository = await repositoryUri(
			session.calls,
			session.clients.ecrPublic,
			session.stack.RepositoryName,
			stackName,
		);
		const base = { subject: `container ${repository}` };
		compare(findings, base, "repository", repository, containers.repository);
		if (findings.length > 0) return { findings, tags };
		const files = await registryFiles(
			context,
			session.calls,
			session.clients.ecrPublic,
			repository,
		);
		const served = await Promise.all(
			tags.map(
				async (tag) =>
					[tag, await servedManifest(context.$, `docker://${repository}:${tag}`, files)] as const,
			),
		);
		for (const [tag, manifest] of served) {
			compare(
				findings,
				{ subject: `container tag ${tag}` },
				"digest",
				containers.indexDigest,
				manifest?.digest ?? "none (no such tag)",
			);
		}
		const index = await servedManifest(
			context.$,
			`docker://${repository}@${containers.indexDigest}`,
			files,
		);
		const listed = index === undefined ? undefined : platformsOf(index.raw);
		const indexBase = { subject: `container index ${containers.indexDigest}` };
		if (listed === undefined) {
			findings.push({
				...indexBase,
				field: "served",
				expected: "an OCI index",
				actual: index === undefined ? "none" : "not an index",
			});
			return { findings, tags };
		}
		const recorded = new Map(
			Object.entries(containers.images).map(([architecture, image]) => [
				`linux/${architecture}`,
				image,
			]),
		);
		for (const [platform, image] of recorded) {
			compare(
				findings,
				{ system: image.system, ...indexBase },
				`platform ${platform}`,
				image.digest,
				listed.get(platform) ?? "none (not in the index)",
			);
		}
		for (const [platform, digest] of listed) {
			if (!recorded.has(platform)) {
				findings.push({
					...indexBase,
					field: `platform ${platform}`,
					expected: "none (not in release.json)",
					actual: digest,
				});
			}
		}
		const images = await Promise.all(
			[...recorded.values()].map(
				async (image) =>
					[
						image,
						await servedManifest(context.$, `docker://${repository}@${image.digest}`, files),
					] as const,
			),
		);
		for (const [image, manifest] of images) {
			compare(
				findings,
				{ system: image.system, subject: `container image ${image.tag}` },
				"served",
				image.digest,
				manifest?.digest ?? "none (not in the registry)",
			);
		}
		return { findings, tags };
	} catch (error) {
		return { findings, unchecked: uncheckedReason(error), tags };
	}
}
