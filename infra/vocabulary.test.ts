import { describe, expect, test } from "bun:test";
import { SYSTEM_ARCHITECTURES } from "./vocabulary.ts";

describe("SYSTEM_ARCHITECTURES", () => {
	test("names every system of nix/systems.json, and only those", async () => {
		const systems = await Bun.file(`${import.meta.dir}/../nix/systems.json`).json();
		expect(Object.keys(SYSTEM_ARCHITECTURES).sort()).toEqual([...systems].sort());
	});
});
