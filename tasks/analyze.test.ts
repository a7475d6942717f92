import { describe, expect, test } from "bun:test";
import { formatterUnavailable } from "./analyze.ts";

describe("formatterUnavailable", () => {
	test("recognises nix failing to fetch the formatter offline", () => {
		const stderr = [
			"warning: error: unable to download 'https://api.github.com/repos/NixOS/nixpkgs/commits/x': Couldn't resolve host name (6); retrying in 300 ms",
			"error: unable to download 'https://github.com/NixOS/nixpkgs/archive/x.tar.gz': Couldn't resolve host name (6)",
		].join("\n");
		expect(formatterUnavailable(stderr)).toStartWith(
			"unable to download 'https://github.com/NixOS/nixpkgs/archive/x.tar.gz'",
		);
	});
	test("recognises a flake without a formatter for this system", () => {
		expect(
			formatterUnavailable(
				"error: flake 'path:/x' does not provide attribute 'formatter.x86_64-linux'",
			),
		).toBe("flake 'path:/x' does not provide attribute 'formatter.x86_64-linux'");
	});
	test("leaves real formatting failures alone", () => {
		expect(formatterUnavailable("nixfmt: foo.nix: parse error")).toBeUndefined();
	});
});
