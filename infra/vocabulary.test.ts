import { describe, expect, test } from "bun:test";
import { AWS_REGIONS, SYSTEM_ARCHITECTURES } from "./vocabulary.ts";

describe("SYSTEM_ARCHITECTURES", () => {
	test("names every system of nix/systems.json, and only those", async () => {
		const systems = await Bun.file(`${import.meta.dir}/../nix/systems.json`).json();
		expect(Object.keys(SYSTEM_ARCHITECTURES).sort()).toEqual([...systems].sort());
	});
});

describe("AWS_REGIONS", () => {
	test("are the aws partition's regions aws-cdk-lib/region-info knows, opt-in ones apart", async () => {
		const { RegionInfo } = await import("aws-cdk-lib/region-info");
		const aws = RegionInfo.regions.filter((region) => region.partition === "aws");
		const names = (optIn: boolean) =>
			aws
				.filter((region) => region.isOptInRegion === optIn)
				.map((region) => region.name)
				.sort();
		expect<string[]>([...AWS_REGIONS.default].sort()).toEqual(names(false));
		expect<string[]>([...AWS_REGIONS.optIn].sort()).toEqual(names(true));
	});
});
