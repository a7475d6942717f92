import { describe, expect, test } from "bun:test";
import { UsageError } from "../runner/errors.ts";
import { hostSystem, systems, systemsProblem } from "./systems.ts";

describe("systems", () => {
	test("come from nix/systems.json", async () => {
		const file = await Bun.file(`${import.meta.dir}/../../nix/systems.json`).json();
		expect(systems()).toEqual(file);
		expect(systems()).toEqual(["x86_64-linux", "aarch64-linux"]);
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

describe("systemsProblem", () => {
	test("accepts a list of distinct Linux systems and says what is wrong with anything else", () => {
		expect(systemsProblem(["x86_64-linux", "aarch64-linux"])).toBeUndefined();
		expect(systemsProblem({})).toBe("is not a non-empty list");
		expect(systemsProblem([])).toBe("is not a non-empty list");
		expect(systemsProblem(["x86_64-darwin"])).toBe(
			'lists "x86_64-darwin", which is not a Linux Nix system',
		);
		expect(systemsProblem(["x86_64-linux", "x86_64-linux"])).toBe("lists a system twice");
	});
});
