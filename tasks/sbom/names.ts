/**
 * A store path's name and version as Nix itself splits them
 * (`builtins.parseDrvName`, nix's DrvName in src/libstore/names.cc), so an
 * SBOM names each component as `nix-env` and sbomnix would.
 */

/** Nix's isalpha, in the C locale Nix runs in: ASCII letters only. */
const LETTER = /^[A-Za-z]$/;

/**
 * The name is everything before the first `-` that is not followed by a
 * letter; the version is what follows that `-` (empty when there is none):
 * `hello-2.12` is hello 2.12, `glibc-2.40-66-bin` is glibc 2.40-66-bin,
 * `foo-bar` is foo-bar with no version.
 */
export function parseDrvName(text: string): { name: string; version: string } {
	for (let i = 0; i < text.length - 1; i++) {
		if (text[i] === "-" && !LETTER.test(text[i + 1] ?? "")) {
			return { name: text.slice(0, i), version: text.slice(i + 1) };
		}
	}
	return { name: text, version: "" };
}

/** A store path: <store dir>/<32 characters of Nix's base32>-<name>, nothing below it. */
const STORE_PATH = /^(\/.+)\/([0-9a-df-np-sv-z]{32})-([^/]+)$/;

export function isStorePath(path: string): boolean {
	return STORE_PATH.test(path);
}

/** The name of a store path (what follows its hash), or undefined when it is no store path. */
export function storePathName(path: string): string | undefined {
	return STORE_PATH.exec(path)?.[3];
}
