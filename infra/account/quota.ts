/**
 * The account's public-AMI quota in a region, and what it uses of it: AWS
 * allows 5 public AMIs per region by default, and public AMIs in the Recycle
 * Bin count too (EC2 user guide, "AMI quotas"). Every release adds one public
 * AMI per system to every region, so this is what runs out first. Only reads.
 */
import {
	DescribeImagesCommand,
	type EC2Client,
	type Image,
	ListImagesInRecycleBinCommand,
} from "@aws-sdk/client-ec2";
import {
	GetAWSDefaultServiceQuotaCommand,
	GetServiceQuotaCommand,
	type ServiceQuotasClient,
} from "@aws-sdk/client-service-quotas";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode } from "../sdk/errors.ts";
import { PUBLIC_AMI_QUOTA } from "../vocabulary.ts";

export interface Quota {
	value: number;
	/** Where the value comes from: the account's applied quota, AWS's default, or AWS's documented default (unreadable). */
	source: "account" | "aws default" | "assumed";
}

export const QUOTA = {
	ServiceCode: PUBLIC_AMI_QUOTA.serviceCode,
	QuotaCode: PUBLIC_AMI_QUOTA.quotaCode,
};

/**
 * The "Public AMIs" quota of the client's region: the account's value, else
 * AWS's default (a quota never changed has no applied value), else the
 * documented default of 5 where Service Quotas cannot be read.
 */
export async function publicAmiQuota(calls: AwsCalls, quotas: ServiceQuotasClient): Promise<Quota> {
	try {
		const { Quota: applied } = await calls.read(quotas, new GetServiceQuotaCommand(QUOTA));
		if (typeof applied?.Value === "number") return { value: applied.Value, source: "account" };
	} catch (error) {
		if (errorCode(error) !== "NoSuchResourceException") return assumed(error);
	}
	try {
		const { Quota: aws } = await calls.read(quotas, new GetAWSDefaultServiceQuotaCommand(QUOTA));
		if (typeof aws?.Value === "number") return { value: aws.Value, source: "aws default" };
	} catch (error) {
		return assumed(error);
	}
	return { value: PUBLIC_AMI_QUOTA.awsDefault, source: "assumed" };
}

/** Only a refusal or an unknown quota makes the default an assumption; anything else is a failure. */
function assumed(error: unknown): Quota {
	const code = errorCode(error);
	if (
		!/^(AccessDenied|AccessDeniedException|NoSuchResourceException|ServiceException|IllegalArgumentException)$/.test(
			code,
		)
	) {
		throw error;
	}
	return { value: PUBLIC_AMI_QUOTA.awsDefault, source: "assumed" };
}

/** What uses a region's public-AMI quota. */
export interface PublicAmiUsage {
	/** The account's public AMIs there. */
	public: Image[];
	/**
	 * AMIs of the account in the Recycle Bin: AWS does not say which of them
	 * were public, and the public ones count, so all are counted.
	 */
	inRecycleBin: number;
}

/** The account's public AMIs in the client's region, and its AMIs in the Recycle Bin; only reads. */
export async function publicAmiUsage(calls: AwsCalls, ec2: EC2Client): Promise<PublicAmiUsage> {
	const publicImages: Image[] = [];
	let token: string | undefined;
	do {
		const page = await calls.read(
			ec2,
			new DescribeImagesCommand({
				Owners: ["self"],
				Filters: [{ Name: "is-public", Values: ["true"] }],
				...(token ? { NextToken: token } : {}),
			}),
		);
		publicImages.push(...(page.Images ?? []));
		token = page.NextToken;
	} while (token);
	let inRecycleBin = 0;
	token = undefined;
	do {
		const page: { Images?: unknown[]; NextToken?: string } = await calls.read(
			ec2,
			new ListImagesInRecycleBinCommand(token ? { NextToken: token } : {}),
		);
		inRecycleBin += page.Images?.length ?? 0;
		token = page.NextToken;
	} while (token);
	return { public: publicImages, inRecycleBin };
}
