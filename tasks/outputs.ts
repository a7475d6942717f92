/**
 * The layout of outputs/, the only place tasks write. Nothing outside tasks/
 * knows it: infra/ and nix/ receive file paths as arguments.
 */
/** What tasks produce, one directory each under outputs/main/. */
export const OUTPUT_KINDS = ["oci-container", "virtual-machine", "infrastructure"] as const;
export type OutputKind = (typeof OUTPUT_KINDS)[number];

// Plain string paths, no node:path: the catalog imports this module on the `--list` path.
export function outputsRoot(root: string): string {
	return `${root}/outputs`;
}

/** outputs/main/<kind>[/<system>] */
export function outputDir(root: string, kind: OutputKind, system?: string): string {
	const dir = `${outputsRoot(root)}/main/${kind}`;
	return system === undefined ? dir : `${dir}/${system}`;
}
