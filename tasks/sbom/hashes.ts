/**
 * The NAR hash of a store object as CycloneDX wants it (SHA-256 in hex),
 * from each form Nix has printed it in: `sha256:<nix base32>` (Nix before
 * 2.4, and narinfo files), `sha256:<hex>`, SRI `sha256-<base64>` (Nix 2.4 on)
 * and the structured `{algorithm, format, hash}` object of newer JSON formats.
 */

/** Nix's own base32 alphabet (no e, o, u, t), not RFC 4648's. */
const NIX_BASE32 = "0123456789abcdfghijklmnpqrsvwxyz";
const SHA256_BYTES = 32;

/**
 * Decodes Nix's base32 (libutil's hash.cc): the string is read from its end,
 * each character adding five bits, least significant first.
 */
export function decodeNixBase32(text: string, bytes: number): Uint8Array | undefined {
	if (text.length !== Math.ceil((bytes * 8) / 5)) return undefined;
	const out = new Uint8Array(bytes);
	for (let n = 0; n < text.length; n++) {
		const digit = NIX_BASE32.indexOf(text[text.length - n - 1] ?? "");
		if (digit < 0) return undefined;
		const bit = n * 5;
		const i = Math.floor(bit / 8);
		const j = bit % 8;
		out[i] = (out[i] ?? 0) | ((digit << j) & 0xff);
		const carry = digit >> (8 - j);
		if (i < bytes - 1) out[i + 1] = (out[i + 1] ?? 0) | carry;
		else if (carry !== 0) return undefined;
	}
	return out;
}

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

/** A SHA-256 in any of Nix's forms as 64 hex digits, or undefined when it is none of them. */
export function sha256Hex(value: unknown): string | undefined {
	if (typeof value === "object" && value !== null) {
		const { algorithm, format, hash } = value as Record<string, unknown>;
		if (algorithm !== "sha256" || typeof hash !== "string") return undefined;
		if (format === "base16") return /^[0-9a-f]{64}$/.test(hash) ? hash : undefined;
		if (format === "nix32" || format === "base32") return sha256Hex(`sha256:${hash}`);
		if (format === "base64") return sha256Hex(`sha256-${hash}`);
		if (format === "sri") return sha256Hex(hash);
		return undefined;
	}
	if (typeof value !== "string") return undefined;
	const sri = /^sha256-([A-Za-z0-9+/]{43}=)$/.exec(value);
	if (sri?.[1] !== undefined) return Buffer.from(sri[1], "base64").toString("hex");
	const prefixed = /^sha256:(.+)$/.exec(value)?.[1];
	if (prefixed === undefined) return undefined;
	if (/^[0-9a-f]{64}$/.test(prefixed)) return prefixed;
	const decoded = decodeNixBase32(prefixed, SHA256_BYTES);
	return decoded === undefined ? undefined : hex(decoded);
}
