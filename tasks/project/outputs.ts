/**
 * The layout of outputs/, the only place tasks write. Nothing outside tasks/
 * knows it: infra/ and nix/ receive file paths as arguments.
 *
 * An image kind's directory, outputs/main/<kind>/<system>/, is a real
 * directory (later steps write what they learn beside the image) holding:
 *   result          the `nix build --out-link`: the one link into the store, a GC root
 *   <stable name>   relative links into result/ (nix.tar.gz, nixos.img, image-info.json)
 */

// Plain string paths, no node:path: the catalog imports this module on the `--list` path.

/** What tasks produce, one directory each under outputs/main/. */
export const OUTPUT_KINDS = [
	"oci-container",
	"virtual-machine",
	"infrastructure",
	"release",
] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** Kinds with one output for every system, not one per system. */
export const SYSTEMLESS_KINDS = [
	"infrastructure",
	"release",
] as const satisfies readonly OutputKind[];

/** The images, and the files each flake package must contain (stable name → path in the package). */
const IMAGE_FILES = {
	"oci-container": { "nix.tar.gz": "nix.tar.gz", "oci-layout": "oci-layout" },
	"virtual-machine": { "nixos.img": "nixos.img", "image-info.json": "nix-support/image-info.json" },
} as const satisfies Partial<Record<OutputKind, Record<string, string>>>;
export type ImageKind = keyof typeof IMAGE_FILES;

export function outputsRoot(root: string): string {
	return `${root}/outputs`;
}

/** Where the runner keeps the locks on what tasks write (inside outputs/, the only place tasks write). */
export function lockDirectory(root: string): string {
	return `${outputsRoot(root)}/.locks`;
}

/** outputs/main/<kind>[/<system>] */
export function outputDir(root: string, kind: OutputKind, system?: string): string {
	const dir = `${outputsRoot(root)}/main/${kind}`;
	return system === undefined ? dir : `${dir}/${system}`;
}

export interface ImageOutput {
	/** outputs/main/<kind>/<system> */
	dir: string;
	/** The out-link nix build replaces only when a build succeeds. */
	result: string;
	/** Each stable file: its path in the package, the link's path, and the link's target (in result/). */
	files: { inPackage: string; path: string; target: string }[];
}

export function imageOutput(root: string, kind: ImageKind, system: string): ImageOutput {
	const dir = outputDir(root, kind, system);
	return {
		dir,
		result: `${dir}/result`,
		files: Object.entries(IMAGE_FILES[kind]).map(([name, inPackage]) => ({
			inPackage,
			path: `${dir}/${name}`,
			target: `result/${inPackage}`,
		})),
	};
}

/**
 * What `publish` writes beside an image: its result (read by `release`, so a
 * later CI job can run on a machine without the image) and its working state.
 */
export function publishOutput(root: string, kind: ImageKind, system: string) {
	const dir = outputDir(root, kind, system);
	return {
		dir,
		/** The published image: ami.json (virtual-machine) or container.json (oci-container). */
		result: `${dir}/${kind === "virtual-machine" ? "ami.json" : "container.json"}`,
		/** What a run needs to resume after a crash (client tokens, a verified checksum). */
		state: `${dir}/publish-state.json`,
	};
}

/** What `release` writes: the release manifest, the public pointer to every published image. */
export function releaseOutput(root: string) {
	const dir = outputDir(root, "release");
	return { json: `${dir}.json`, dir, page: `${dir}/index.html` };
}

/**
 * The cloud assembly `synth` writes (cdk.json "output"), what `deploy` learns
 * beside it, and synth's own working paths next to it.
 */
export function infrastructureOutput(root: string) {
	const dir = outputDir(root, "infrastructure");
	return {
		dir,
		/** Where synth writes before the assembly replaces `dir`. */
		staging: `${dir}.staging`,
		/** The context synth hands the CDK app (removed when synth ends). */
		contextFile: `${dir}.context.json`,
		/** An assembly validation refused, kept for reading its report. */
		rejected: `${dir}.rejected`,
		/** The replaced assembly, for the moment of the swap. */
		previous: `${dir}.previous`,
		/** Inputs and outputs of the last synth, to skip one that would change nothing. */
		stamp: `${dir}.stamp.json`,
		/** `cdk deploy --outputs-file`: a stack's outputs after a deploy. */
		stackOutputs: (stackName: string) => `${dir}/${stackName}${STACK_OUTPUTS_SUFFIX}`,
	};
}

const STACK_OUTPUTS_SUFFIX = ".outputs.json";

/** Whether a file in the assembly directory is what deploy wrote there (not part of the assembly). */
export function isStackOutputsFile(name: string): boolean {
	return name.endsWith(STACK_OUTPUTS_SUFFIX);
}

/** Everything of one kind of output: its directory and any working paths beside it. */
export function kindPaths(root: string, kind: OutputKind): string[] {
	if (kind === "release") return [releaseOutput(root).json, releaseOutput(root).dir];
	if (kind !== "infrastructure") return [outputDir(root, kind)];
	const { dir, staging, contextFile, rejected, previous, stamp } = infrastructureOutput(root);
	return [dir, staging, contextFile, rejected, previous, stamp];
}
