/**
 * One image's SBOM, from what is built: the subject from the image, the roots
 * and licenses from its package, the closure from the local store; written
 * beside the image, in one rename. `bun task sbom` and the image builds both
 * come here, so an SBOM is always made the same way.
 */
import { existsSync, realpathSync, rmSync } from "node:fs";
import { relative } from "node:path";
import packageJson from "../../package.json" with { type: "json" };
import { writeAtomically } from "../project/files.ts";
import type { BuildOptions } from "../project/options.ts";
import { type ImageKind, imageOutput } from "../project/outputs.ts";
import { TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import { bomProblem, makeBom } from "./bom.ts";
import { readSbomInputs } from "./package.ts";
import { readClosure } from "./store.ts";
import { containerSubject, diskSubject } from "./subjects.ts";

export const IMAGE_KINDS = ["oci-container", "virtual-machine"] as const satisfies ImageKind[];

/**
 * outputs/main/<kind>/<system>/sbom.cdx.json, beside the image it describes
 * (.cdx.json: CycloneDX's recommended name for JSON BOMs). Removed with the
 * image's directory by `clean`.
 */
export function sbomPath(root: string, kind: ImageKind, system: string): string {
	return `${imageOutput(root, kind, system).dir}/sbom.cdx.json`;
}

/** Whether the image is built: its result link leads to a store path that is still there. */
export function isBuilt(root: string, kind: ImageKind, system: string): boolean {
	return existsSync(imageOutput(root, kind, system).result);
}

export function buildCommand(kind: ImageKind, system: string): string {
	return `bun task ${kind} --system ${system}`;
}

export interface ImageSbom {
	path: string;
	json: string;
	components: number;
	subject: string;
}

/** The SBOM of the built image of `kind` (which must be built), made and validated, not written. */
export async function makeImageSbom(
	context: Pick<TaskContext, "$" | "root">,
	kind: ImageKind,
	system: string,
): Promise<ImageSbom> {
	const { root } = context;
	const rebuild = buildCommand(kind, system);
	// Everything is read from this one store path, not through links that a build may replace.
	const store = realpathSync(imageOutput(root, kind, system).result);
	const subject =
		kind === "oci-container"
			? containerSubject(root, system, store)
			: diskSubject(system, store, rebuild);
	const { roots, licenses } = readSbomInputs(store, rebuild);
	const closure = await readClosure(context, roots, rebuild);
	const json = makeBom(subject, roots, closure, licenses, {
		name: packageJson.name,
		version: packageJson.version,
	});
	const problem = await bomProblem(json);
	if (problem !== undefined) {
		throw new TaskError(
			`The SBOM made for ${kind} of ${system} is not valid CycloneDX 1.6 (${problem}); this is a bug in nix-images: report it with this message.`,
		);
	}
	return {
		path: sbomPath(root, kind, system),
		json,
		components: closure.length,
		subject: `${subject.name}${subject.version === undefined ? "" : ` ${subject.version}`} sha256:${subject.sha256}`,
	};
}

/** Writes a made SBOM in one rename, so a reader sees the old one or the new one. */
export function writeImageSbom(context: Pick<TaskContext, "root" | "log">, sbom: ImageSbom): void {
	writeAtomically(sbom.path, sbom.json);
	context.log(
		`${relative(context.root, sbom.path)}: ${sbom.components} components, subject ${sbom.subject}.`,
	);
}

/**
 * The image builds' last step, under the build's own lock on the image's
 * directory: the SBOM of what was just built. When it cannot be made, the old
 * one goes (it describes the previous image) and the task fails, saying that
 * the image itself was built.
 */
export async function sbomAfterBuild(
	context: TaskContext<BuildOptions>,
	kind: ImageKind,
): Promise<void> {
	const { root, options, dryRun, log } = context;
	const path = sbomPath(root, kind, options.system);
	if (dryRun) {
		log(`would write ${relative(root, path)} from the built image.`);
		return;
	}
	try {
		writeImageSbom(context, await makeImageSbom(context, kind, options.system));
	} catch (error) {
		rmSync(path, { force: true });
		if (!(error instanceof TaskError)) throw error;
		throw new TaskError(
			`The image was built, but not its SBOM (the previous one, which described the previous image, was removed): ${error.message}`,
			error.exitCode,
		);
	}
}
