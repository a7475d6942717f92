/**
 * What a release should look like where users get it, region by region:
 * from release.json (what was released) and the stack's outputs (which
 * parameters the stack declares, how it tags its copies). A newer release
 * owns the SSM parameters and the moving tags: for an older release.json
 * those checks are left out and reported as superseded.
 */

import { type StackOutputs, systemOutput } from "../../infra/sdk/stack-outputs.ts";
import type { Finding } from "../../infra/verify/findings.ts";
import type { ExpectedImage } from "../../infra/verify/images.ts";
import type { RegionExpectation } from "../../infra/verify/region.ts";
import { HOME_REGION, MANAGED_BY, type System } from "../../infra/vocabulary.ts";
import type { ReleaseManifest } from "../release/manifest.ts";

export interface RegionPlan extends RegionExpectation {
	/** What release.json itself leaves out (a region without a recorded copy): findings without asking AWS. */
	unrecorded: Finding[];
}

/** The regions a release covers: the stack's at the release, else every region a copy was recorded in. */
export function releaseRegions(manifest: ReleaseManifest): string[] {
	const recorded = Object.values(manifest.amis).flatMap((release) => Object.keys(release.regions));
	return [...new Set([HOME_REGION, ...(manifest.regions ?? recorded)])].sort();
}

/** The stack's declared AMI parameter names, one per system it distributes. */
function declaredParameters(stack: StackOutputs): Set<string> {
	try {
		return new Set(Object.values(JSON.parse(stack.AmiParameterNames) as Record<string, string>));
	} catch {
		return new Set();
	}
}

/**
 * Per region: the source AMI (home region, private, tagged as publish tags
 * it) and each system's copy (public when the release's AMIs were, tagged as
 * the stack's distribution tags it), named as the source; where `current`,
 * each system's SSM parameter holding that copy.
 */
export function planRegions(
	manifest: ReleaseManifest,
	stack: StackOutputs,
	current: boolean,
): RegionPlan[] {
	const systems = Object.entries(manifest.amis) as [System, ReleaseManifest["amis"][string]][];
	return releaseRegions(manifest).map((region) => {
		const images: ExpectedImage[] = [];
		const unrecorded: Finding[] = [];
		const parameters: { system: string; name: string; imageId: string }[] = [];
		for (const [system, release] of systems) {
			const copy = release.regions[region];
			// Should the distribution's entry for the source's own region be the source itself
			// (unconfirmed on AWS), it is checked as the copy it then is.
			if (region === release.sourceImage.region && copy !== release.sourceImage.imageId) {
				images.push({
					system,
					imageId: release.sourceImage.imageId,
					name: release.sourceImage.name,
					public: false,
					tags: { [MANAGED_BY.key]: MANAGED_BY.value, BuildId: release.buildId, System: system },
					...(release.imageSha256 ? { imageSha256: release.imageSha256 } : {}),
				});
			}
			if (copy === undefined) {
				unrecorded.push({
					system,
					subject: "copy",
					field: "recorded",
					expected: `a copy in ${region}, a region of the release`,
					actual: "none in release.json",
				});
				continue;
			}
			images.push({
				system,
				imageId: copy,
				name: release.sourceImage.name,
				public: manifest.publicAmis,
				tags: {
					[MANAGED_BY.key]: MANAGED_BY.value,
					[stack.LifecycleTagKey]: systemOutput(stack, "LifecycleTagValues", system),
				},
				...(release.imageSha256 ? { imageSha256: release.imageSha256 } : {}),
			});
			const name = systemOutput(stack, "AmiParameterNames", system);
			if (name !== release.ssmParameter) {
				unrecorded.push({
					system,
					subject: "SSM parameter",
					field: "name",
					expected: name,
					actual: `${release.ssmParameter} in release.json`,
				});
			}
			parameters.push({ system, name, imageId: copy });
		}
		return {
			region,
			images,
			publicAmis: manifest.publicAmis && systems.length > 0,
			unrecorded,
			...(current
				? {
						parameters: {
							path: `/nix-images/${manifest.stack}`,
							expected: parameters,
							known: declaredParameters(stack),
						},
					}
				: {}),
		};
	});
}
