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
export const OUTPUT_KINDS = ["oci-container", "virtual-machine", "infrastructure"] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

/** The images, and the files each flake package must contain (stable name → path in the package). */
export const IMAGE_FILES = {
	"oci-container": { "nix.tar.gz": "nix.tar.gz" },
	"virtual-machine": { "nixos.img": "nixos.img", "image-info.json": "nix-support/image-info.json" },
} as const satisfies Partial<Record<OutputKind, Record<string, string>>>;
export type ImageKind = keyof typeof IMAGE_FILES;

export function outputsRoot(root: string): string {
	return `${root}/outputs`;
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
	/** Each stable file: the link's path, and its relative target inside result/. */
	files: { name: string; path: string; target: string }[];
}

export function imageOutput(root: string, kind: ImageKind, system: string): ImageOutput {
	const dir = outputDir(root, kind, system);
	return {
		dir,
		result: `${dir}/result`,
		files: Object.entries(IMAGE_FILES[kind]).map(([name, inPackage]) => ({
			name,
			path: `${dir}/${name}`,
			target: `result/${inPackage}`,
		})),
	};
}

/** The cloud assembly `synth` writes (cdk.json "output"), and what `deploy` learns beside it. */
export function infrastructureOutput(root: string, stackName: string) {
	const dir = outputDir(root, "infrastructure");
	return {
		dir,
		/** `cdk deploy --outputs-file`: the stack's outputs after a deploy. */
		stackOutputs: `${dir}/${stackName}.outputs.json`,
		/** Inputs and outputs of the last synth, to skip one that would change nothing. */
		stamp: `${outputsRoot(root)}/main/.infrastructure.stamp.json`,
	};
}
