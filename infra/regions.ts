import { RegionInfo } from "aws-cdk-lib/region-info";

/** Regions of the `aws` partition that every account has (not opt-in), from the CDK's region data. */
export function defaultRegions(): string[] {
	return RegionInfo.regions
		.filter((region) => region.partition === "aws" && !region.isOptInRegion)
		.map((region) => region.name)
		.sort();
}

/** Every region of the `aws` partition, opt-in ones included. */
export function partitionRegions(): string[] {
	return RegionInfo.regions
		.filter((region) => region.partition === "aws")
		.map((region) => region.name);
}
