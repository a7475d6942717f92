/**
 * Name-based UUIDs (version 5, RFC 4122 §4.3; RFC 9562 §5.5): the same name
 * always gives the same UUID, which is what makes an SBOM's serial number a
 * property of its image rather than of the run that wrote it.
 */
import { createHash } from "node:crypto";

/** RFC 4122's namespace for URLs (Appendix C). */
export const URL_NAMESPACE = "6ba7b811-9dad-11d1-80b4-00c04fd430c8";

function bytesOf(uuid: string): Buffer {
	const digits = uuid.replaceAll("-", "");
	if (!/^[0-9a-f]{32}$/i.test(digits)) throw new Error(`${uuid} is not a UUID`);
	return Buffer.from(digits, "hex");
}

/** SHA-1 of the namespace's 16 bytes and the name's UTF-8, cut to 16 bytes, version 5, variant 10. */
export function uuidV5(name: string, namespace: string): string {
	const hash = createHash("sha1").update(bytesOf(namespace)).update(name, "utf8").digest();
	const bytes = hash.subarray(0, 16);
	bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
	bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
	const h = bytes.toString("hex");
	return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/**
 * The namespace of this project's SBOM serial numbers: the v5 UUID of its
 * repository's URL with #sbom, so no other producer's names collide with ours.
 */
export const SBOM_NAMESPACE = uuidV5(
	"https://github.com/commiterate/nix-images#sbom",
	URL_NAMESPACE,
);
