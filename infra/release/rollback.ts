/**
 * What `rollback` changes in AWS: each system's SSM parameter in every
 * region pointed back at the target release's AMI there, and, with
 * --deprecate, the AMIs of the release it leaves deprecated now. Both are
 * keyed on what AWS holds, so a re-run after a crash changes only what is
 * not yet as the target says.
 */
import {
	DescribeImagesCommand,
	type EC2Client,
	EnableImageDeprecationCommand,
} from "@aws-sdk/client-ec2";
import { GetParameterCommand, PutParameterCommand, type SSMClient } from "@aws-sdk/client-ssm";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode, PublishError } from "../sdk/errors.ts";
import { awsTimeMs } from "../sdk/times.ts";

export interface ParameterMove {
	region: string;
	name: string;
	imageId: string;
}

/**
 * Points the parameter at `imageId` (data type aws:ec2:image, as the
 * distribution writes it), idempotent on its value: read first, and written
 * only when it names another AMI (every PutParameter makes a new version).
 */
export async function pointParameter(
	calls: AwsCalls,
	ssm: SSMClient,
	move: ParameterMove,
): Promise<"moved" | "unchanged"> {
	let value: string | undefined;
	try {
		const { Parameter } = await calls.read(ssm, new GetParameterCommand({ Name: move.name }));
		value = Parameter?.Value;
	} catch (error) {
		if (errorCode(error) !== "ParameterNotFound") throw error;
	}
	if (value === move.imageId) return "unchanged";
	await calls.write(
		ssm,
		new PutParameterCommand({
			Name: move.name,
			Value: move.imageId,
			Type: "String",
			DataType: "aws:ec2:image",
			Overwrite: true,
		}),
	);
	return "moved";
}

/**
 * Deprecates `imageId` at `at` (whole minutes, as EC2 stores them) unless
 * it is deprecated by then already: idempotent on its DeprecationTime. An
 * AMI that is gone is left (nothing to deprecate), and one not named `name`
 * (the release's, which its copies share) is refused: the release.json it
 * comes from is handed over, and must not make this deprecate another AMI.
 */
export async function deprecateBy(
	calls: AwsCalls,
	ec2: EC2Client,
	imageId: string,
	name: string,
	at: number,
): Promise<"deprecated" | "already" | "gone"> {
	// A filter, not ImageIds: a gone AMI is an empty answer, not InvalidAMIID.NotFound.
	const { Images } = await calls.read(
		ec2,
		new DescribeImagesCommand({
			Owners: ["self"],
			Filters: [{ Name: "image-id", Values: [imageId] }],
			IncludeDeprecated: true,
		}),
	);
	const image = Images?.[0];
	if (image === undefined) return "gone";
	if (image.Name !== name) {
		throw new PublishError(
			`${imageId} is named ${image.Name ?? "nothing"}, not ${name} as the release being left says, so it was not deprecated; check the history, then run rollback again.`,
		);
	}
	const current = image.DeprecationTime ? awsTimeMs(image.DeprecationTime) : undefined;
	if (current !== undefined && current <= at) return "already";
	await calls.write(
		ec2,
		new EnableImageDeprecationCommand({ ImageId: imageId, DeprecateAt: new Date(at) }),
	);
	return "deprecated";
}
