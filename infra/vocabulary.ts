/**
 * The names the control plane (the CDK constructs) and the data plane (the
 * SDK steps under sdk/, publish/, release/, …) share: where the project
 * lives, what each system is called, and the tags that one side sets and the
 * other selects or scopes IAM by. It imports nothing, so neither side loads
 * the other's libraries through it (infra/layout.test.ts holds that).
 */

/** ECR Public exists only in us-east-1, so the control plane, and publishing, live there. */
export const HOME_REGION = "us-east-1";

/**
 * The regions of the `aws` partition, as aws-cdk-lib/region-info lists them
 * (a test keeps the two equal): those every account has, and the opt-in ones.
 * Here, not read from the CDK at run time, because loading region-info costs
 * every task that reads the settings (publish, release) about 37 MiB.
 */
export const AWS_REGIONS = {
	default: [
		"ap-northeast-1",
		"ap-northeast-2",
		"ap-northeast-3",
		"ap-south-1",
		"ap-southeast-1",
		"ap-southeast-2",
		"ca-central-1",
		"eu-central-1",
		"eu-north-1",
		"eu-west-1",
		"eu-west-2",
		"eu-west-3",
		"sa-east-1",
		"us-east-1",
		"us-east-2",
		"us-west-1",
		"us-west-2",
	],
	optIn: [
		"af-south-1",
		"ap-east-1",
		"ap-east-2",
		"ap-south-2",
		"ap-southeast-3",
		"ap-southeast-4",
		"ap-southeast-5",
		"ap-southeast-6",
		"ap-southeast-7",
		"ca-west-1",
		"eu-central-2",
		"eu-south-1",
		"eu-south-2",
		"il-central-1",
		"me-central-1",
		"me-south-1",
		"me-west-1",
		"mx-central-1",
	],
} as const;

/**
 * What each Nix system is called by EC2 and by OCI image platforms, and the
 * instance type its smoke test runs on. The systems themselves are listed in
 * nix/systems.json; a test keeps the two equal.
 */
export const SYSTEM_ARCHITECTURES = {
	// smoke: the smallest instance type that boots the AMI (Nitro, UEFI; NitroTPM on x86-64),
	// as NixOS/amis' smoke test uses; the publish role may launch only these.
	"x86_64-linux": { ec2: "x86_64", oci: "amd64", smoke: "t3.nano" },
	"aarch64-linux": { ec2: "arm64", oci: "arm64", smoke: "t4g.nano" },
} as const;

export type System = keyof typeof SYSTEM_ARCHITECTURES;

/**
 * How far ahead EnableImageDeprecation may date an AMI's deprecation: 10
 * years, and for public AMIs 2 years from their creation (EC2 API reference,
 * EnableImageDeprecation). Publish deprecates after lifecycleMaxAgeDays.
 */
export const MAX_DEPRECATION_DAYS = 3650;
export const MAX_PUBLIC_DEPRECATION_DAYS = 730;

/** The stack's SmokeTestSubnet output when no subnet is set: the smoke test uses the default VPC's. */
export const SMOKE_TEST_DEFAULT_VPC = "default";

/** On every snapshot, AMI and Image Builder image this project makes; IAM conditions check it. */
export const MANAGED_BY = { key: "ManagedBy", value: "nix-images" } as const;

/** Each system's lifecycle policy selects the AMIs carrying this tag with its value (lifecycleTagValue). */
export const LIFECYCLE_TAG_KEY = "nix-images:lifecycle";

/**
 * The tags publish puts on its snapshots and AMIs as it creates them (the
 * AMI also gets IMAGE_SHA256_TAG); the publish role may set only these.
 */
export const PUBLISH_TAG_KEYS = [
	"Name",
	MANAGED_BY.key,
	"BuildId",
	"System",
	"CreatedBy",
	LIFECYCLE_TAG_KEY,
] as const;

/**
 * The lifecycle tag's value for one system of a stack: one per system, so
 * each system's policy keeps its own newest AMIs (one value for both would
 * let an x86-only release leave the arm AMI its parameter names exposed).
 */
export function lifecycleTagValue(stackName: string, system: string): string {
	return `${stackName}-${system}`;
}

/**
 * EC2's "Public AMIs" quota (Service Quotas): 5 per region by default, and
 * public AMIs in the Recycle Bin count too (EC2 user guide, "AMI quotas").
 */
export const PUBLIC_AMI_QUOTA = {
	serviceCode: "ec2",
	quotaCode: "L-0E3CBAB9",
	awsDefault: 5,
} as const;

/**
 * On every AMI and regional copy: the SHA-256 (64 hex digits) of the disk
 * image it was registered from, so whoever holds an AMI id reads from the
 * AMI the digest its provenance statement is found by. Publish sets it at
 * RegisterImage (the AMI only, not its snapshot); release copies it onto
 * every copy, read from the source AMI. Each role may set it only so.
 */
export const IMAGE_SHA256_TAG = "ImageSha256";

/** The AMI tag that records a passed smoke test (its value is the build id). */
export const SMOKE_TEST_TAG = "SmokeTest";

/** The AMI tag that numbers the smoke-test launches of its build: the attempt a re-run goes on with. */
export const ATTEMPT_TAG = "SmokeTestAttempt";

/** What marks an instance as a smoke test; with BuildId, how a re-run finds the ones a crash left. */
export const PURPOSE_TAG = { key: "Purpose", value: "smoke-test" } as const;

/** The AMI tag that records its Image Builder image, so a re-run follows the same distribution. */
export const DISTRIBUTION_TAG = "ImageBuilderImage";

/** The AMI tag that counts the RetryImage calls made for its distribution (each with its own token). */
export const RETRIES_TAG = "ImageBuilderRetries";

/**
 * The tags release puts on each regional copy's snapshots (the distribution
 * tags the AMI only), so retention may delete them under its ManagedBy
 * condition; the release role may set only these.
 */
export const COPY_SNAPSHOT_TAG_KEYS = [MANAGED_BY.key, "BuildId", "System"] as const;
