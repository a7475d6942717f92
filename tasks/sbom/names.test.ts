import { describe, expect, test } from "bun:test";
import { isStorePath, parseDrvName, storePathName } from "./names.ts";

describe("parseDrvName", () => {
	// What `builtins.parseDrvName` answers for each (test/sbom.test.ts asks Nix itself too).
	test.each([
		["hello-2.12", "hello", "2.12"],
		["nix-2.31.2", "nix", "2.31.2"],
		["perl-5.38.2-env", "perl", "5.38.2-env"],
		["glibc-2.40-66-bin", "glibc", "2.40-66-bin"],
		["python3.12-requests-2.32.3", "python3.12-requests", "2.32.3"],
		["nixos-system-nixos-26.05.20260616.567a49d", "nixos-system-nixos", "26.05.20260616.567a49d"],
		["source", "source", ""],
		["foo-bar", "foo-bar", ""],
		["hello-", "hello-", ""],
		["foo--bar", "foo", "-bar"],
		["foo-_bar", "foo", "_bar"],
		["-1", "", "1"],
	])("%s is %j, version %j", (text, name, version) => {
		expect(parseDrvName(text)).toEqual({ name, version });
	});
});

describe("store paths", () => {
	test("the name is what follows the hash", () => {
		expect(
			storePathName("/nix/store/5h0ziygcanfbscxd8irpwhidfz61s953-bash-interactive-5.2p37"),
		).toBe("bash-interactive-5.2p37");
		expect(storePathName("/nix/store/5h0ziygcanfbscxd8irpwhidfz61s953-bash/bin")).toBeUndefined();
	});
	test("a hash outside Nix's base32 (e, o, u, t) or of the wrong length is no store path", () => {
		expect(isStorePath("/nix/store/5h0ziygcanfbscxd8irpwhidfz61s953-x")).toBe(true);
		expect(isStorePath("/nix/store/eh0ziygcanfbscxd8irpwhidfz61s953-x")).toBe(false);
		expect(isStorePath("/nix/store/5h0ziygcanfbscxd8irpwhidfz61s95-x")).toBe(false);
		expect(isStorePath("nix/store/5h0ziygcanfbscxd8irpwhidfz61s953-x")).toBe(false);
	});
});
