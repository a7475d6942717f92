/**
 * `sbom`: the CycloneDX SBOM of each built image of one system, again, from
 * what is built (the image builds write it too). Both are made before either
 * is written, so a broken image leaves both SBOMs as they were.
 */
import { relative } from "node:path";
import type { SbomOptions } from "./project/options.ts";
import { imageOutput } from "./project/outputs.ts";
import { TaskError } from "./runner/errors.ts";
import type { TaskContext } from "./runner/task.ts";
import {
	buildCommand,
	IMAGE_KINDS,
	isBuilt,
	makeImageSbom,
	sbomPath,
	writeImageSbom,
} from "./sbom/image.ts";

export default async function sbom(context: TaskContext<SbomOptions>) {
	const { root, options, dryRun, log, lock } = context;
	const { system } = options;
	const show = (path: string) => relative(root, path);
	const built = IMAGE_KINDS.filter((kind) => isBuilt(root, kind, system));
	if (built.length === 0) {
		throw new TaskError(
			`No image of ${system} is built (${IMAGE_KINDS.map((kind) => show(imageOutput(root, kind, system).result)).join(" and ")} are missing), so there is nothing to describe; build them first: bun task images --system ${system}.`,
		);
	}
	for (const kind of built) lock(sbomPath(root, kind, system));
	const made = [];
	for (const kind of built) made.push(await makeImageSbom(context, kind, system));
	for (const sbom of made) {
		if (dryRun) log(`would write ${show(sbom.path)} (${sbom.components} components).`);
		else writeImageSbom(context, sbom);
	}
	for (const kind of IMAGE_KINDS.filter((kind) => !built.includes(kind))) {
		log(
			`${show(imageOutput(root, kind, system).dir)} holds no built image, so it has no SBOM; build it first: ${buildCommand(kind, system)}.`,
		);
	}
}
