import { describe, expect, test } from "bun:test";
import { decodeNixBase32, sha256Hex } from "./hashes.ts";

// One NAR hash in each of Nix's forms (base32 from `nix-hash --type sha256 --to-base32`).
const HEX = "92c31656faacf4862186d49b07f8341485bc26cd1ce4f9fc0ca1b0e1c4385e01";
const NIX32 = "00ay732f3c511kygkr0wrlkbr18l6kw0g6ylhqhqdx5cz9b1dhwj";
const SRI = "sha256-ksMWVvqs9IYhhtSbB/g0FIW8Js0c5Pn8DKGw4cQ4XgE=";

describe("sha256Hex", () => {
	test.each([
		["SRI (Nix 2.4 on)", SRI],
		["sha256:<nix base32> (older Nix, nix-store --query --hash)", `sha256:${NIX32}`],
		["sha256:<hex>", `sha256:${HEX}`],
		["structured base16", { algorithm: "sha256", format: "base16", hash: HEX }],
		["structured nix32", { algorithm: "sha256", format: "nix32", hash: NIX32 }],
		["structured SRI", { algorithm: "sha256", format: "sri", hash: SRI }],
	])("reads %s", (_, value) => {
		expect(sha256Hex(value)).toBe(HEX);
	});
	test.each([
		["another algorithm", "sha512-AAAA"],
		["base32 with a letter Nix's alphabet lacks", `sha256:${NIX32.replace("a", "e")}`],
		["base32 of the wrong length", `sha256:${NIX32.slice(1)}`],
		["a bare hex digest", HEX],
		["structured sha1", { algorithm: "sha1", format: "base16", hash: HEX }],
		["nothing", undefined],
	])("refuses %s", (_, value) => {
		expect(sha256Hex(value)).toBeUndefined();
	});
});

describe("Nix's base32", () => {
	test("is read from its end, least significant bits first", () => {
		const one = decodeNixBase32(`008${"0".repeat(49)}`, 32);
		expect(Buffer.from(one ?? []).toString("hex")).toBe(`${"00".repeat(31)}01`);
		expect(Buffer.from(decodeNixBase32(`1${"z".repeat(51)}`, 32) ?? []).toString("hex")).toBe(
			"ff".repeat(32),
		);
	});
	test("refuses bits beyond the hash", () => {
		expect(decodeNixBase32(`2${"z".repeat(51)}`, 32)).toBeUndefined();
	});
});
