/**
 * How this project names what it publishes, from the build alone: the build
 * id, the AMI's name and the container's per-build tag. Publish makes the
 * names and release derives them again to check what a record says.
 */

/** The build id: the start of the image's SHA-256 (or of the container's manifest digest), so the same image always has the same one. */
export function buildIdOf(sha256: string): string {
	return sha256.replace(/^sha256:/, "").slice(0, 16);
}

/** The AMI's name: unique per build and region, which makes RegisterImage idempotent. */
export function amiName(label: string, system: string, buildId: string): string {
	return `nixos-${label}-${system}-${buildId}`;
}

/** The NixOS label in an AMI name of this system and build, or undefined when it is not one of ours. */
export function labelOf(name: string, system: string, buildId: string): string | undefined {
	const prefix = "nixos-";
	const suffix = `-${system}-${buildId}`;
	if (!name.startsWith(prefix) || !name.endsWith(suffix)) return undefined;
	const label = name.slice(prefix.length, -suffix.length);
	return label === "" ? undefined : label;
}

/** A Docker tag may hold letters, digits, _ . - (at most 128). */
function tagSafe(text: string): string {
	return text.replace(/[^\w.-]/g, "_").slice(0, 128);
}

/** The container's immutable tag: `<nix version>-<build id>-<architecture>`, one per build and architecture. */
export function containerTag(nixVersion: string, buildId: string, architecture: string): string {
	return tagSafe(`${nixVersion}-${buildId}-${architecture}`);
}
