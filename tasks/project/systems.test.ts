import { describe, expect, test } from "bun:test";
import { UsageError } from "../runner/errors.ts";
import { hostSystem, SYSTEMS } from "./systems.ts";

describe("systems", () => {
	test("come from nix/systems.json", async () => {
		const file = await Bun.file(`${import.meta.dir}/../../nix/systems.json`).json();
		expect(SYSTEMS).toEqual(file);
		expect(SYSTEMS).toEqual(["x86_64-linux", "aarch64-linux"]);
	});
	test("the host maps to its Nix system", () => {
		expect(hostSystem("linux", "x64")).toBe("x86_64-linux");
		expect(hostSystem("linux", "arm64")).toBe("aarch64-linux");
	});
	test("any other host is a clear usage error", () => {
		expect(() => hostSystem("darwin", "arm64")).toThrow(UsageError);
		expect(() => hostSystem("linux", "riscv64")).toThrow(
			"This host (linux/riscv64) is not one of the image systems, so --system has no default; pass --system with one of x86_64-linux, aarch64-linux.",
		);
	});
});
