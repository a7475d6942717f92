/**
 * Which build users get now, as the stack's SSM parameter in the home region
 * says: what release compares a new build with, so that an older build's
 * record cannot move users back to it by mistake. Only reads.
 */
import { DescribeImagesCommand, type EC2Client, type Image } from "@aws-sdk/client-ec2";
import { GetParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode } from "../sdk/errors.ts";
import { awsTimeIso } from "../sdk/times.ts";

export interface CurrentBuild {
	/** The build id of the AMI the parameter names (its source's BuildId tag), if it has one. */
	buildId: string | undefined;
	/** When that build was registered: its source AMI's creation, or the copy's when the source is gone. */
	createdAt: string;
}

async function describe(
	calls: AwsCalls,
	ec2: EC2Client,
	imageId: string,
): Promise<Image | undefined> {
	try {
		const { Images } = await calls.read(ec2, new DescribeImagesCommand({ ImageIds: [imageId] }));
		return Images?.[0];
	} catch (error) {
		if (errorCode(error).startsWith("InvalidAMIID.")) return undefined;
		throw error;
	}
}

/** The build the parameter points users at, or undefined when nothing was released yet (or its AMI is gone). */
export async function currentBuild(
	calls: AwsCalls,
	ec2: EC2Client,
	ssm: SSMClient,
	parameterName: string,
): Promise<CurrentBuild | undefined> {
	let imageId: string | undefined;
	try {
		const { Parameter } = await calls.read(ssm, new GetParameterCommand({ Name: parameterName }));
		imageId = Parameter?.Value;
	} catch (error) {
		if (errorCode(error) === "ParameterNotFound") return undefined;
		throw error;
	}
	if (!imageId) return undefined;
	const copy = await describe(calls, ec2, imageId);
	if (copy === undefined) return undefined;
	const source = copy.SourceImageId ? await describe(calls, ec2, copy.SourceImageId) : undefined;
	const built = source ?? copy;
	return {
		buildId: built.Tags?.find((tag) => tag.Key === "BuildId")?.Value,
		createdAt: awsTimeIso(built.CreationDate) ?? "",
	};
}
