import { AWS_REGIONS } from "./vocabulary.ts";

/** Regions of the `aws` partition that every account has (not opt-in), sorted. */
export function defaultRegions(): string[] {
	return [...AWS_REGIONS.default].sort();
}

/** Every region of the `aws` partition, opt-in ones included. */
export function partitionRegions(): string[] {
	return [...AWS_REGIONS.default, ...AWS_REGIONS.optIn].sort();
}
