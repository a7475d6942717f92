/**
 * Where the smoke test's instances go: RunInstances without a subnet needs
 * the account's default VPC in us-east-1, which many organisations delete.
 * So a subnet is found first (the one the smokeTestSubnet setting names, or
 * a default subnet of the default VPC), in an availability zone that offers
 * each instance type (not every zone has t4g), or one sentence says why there
 * is none, before anything is launched. Only reads.
 */
import {
	DescribeInstanceTypeOfferingsCommand,
	DescribeSubnetsCommand,
	DescribeVpcsCommand,
	type EC2Client,
	type Subnet,
} from "@aws-sdk/client-ec2";
import type { AwsCalls } from "../sdk/calls.ts";
import { errorCode, PublishError } from "../sdk/errors.ts";
import { SMOKE_TEST_DEFAULT_VPC } from "../vocabulary.ts";

/** The zones of the client's region that offer `instanceType`. */
async function zonesOffering(calls: AwsCalls, ec2: EC2Client, instanceType: string) {
	const { InstanceTypeOfferings } = await calls.read(
		ec2,
		new DescribeInstanceTypeOfferingsCommand({
			LocationType: "availability-zone",
			Filters: [{ Name: "instance-type", Values: [instanceType] }],
		}),
	);
	return new Set((InstanceTypeOfferings ?? []).flatMap((offering) => offering.Location ?? []));
}

/** The configured subnet, or the default VPC's default subnets; a sentence when there are none. */
async function candidates(calls: AwsCalls, ec2: EC2Client, configured: string): Promise<Subnet[]> {
	const setting =
		"set the smokeTestSubnet setting to a subnet of us-east-1 (`bun task deploy -- --context smokeTestSubnet=subnet-…`), or release with --no-smoke-test";
	if (configured !== SMOKE_TEST_DEFAULT_VPC) {
		try {
			const { Subnets } = await calls.read(
				ec2,
				new DescribeSubnetsCommand({ SubnetIds: [configured] }),
			);
			if (Subnets?.length) return Subnets;
		} catch (error) {
			if (errorCode(error) !== "InvalidSubnetID.NotFound") throw error;
		}
		throw new PublishError(
			`The smokeTestSubnet setting names ${configured}, which is no subnet of this account in us-east-1; ${setting}.`,
		);
	}
	const { Vpcs } = await calls.read(
		ec2,
		new DescribeVpcsCommand({ Filters: [{ Name: "isDefault", Values: ["true"] }] }),
	);
	const vpc = Vpcs?.[0]?.VpcId;
	if (vpc === undefined) {
		throw new PublishError(
			`The smoke test launches its instances in us-east-1's default VPC, and this account has none there; ${setting}.`,
		);
	}
	const { Subnets } = await calls.read(
		ec2,
		new DescribeSubnetsCommand({
			Filters: [
				{ Name: "vpc-id", Values: [vpc] },
				{ Name: "default-for-az", Values: ["true"] },
			],
		}),
	);
	return Subnets ?? [];
}

/**
 * For each instance type, a subnet in a zone that offers it: the smoke
 * test's RunInstances goes there.
 */
export async function smokeTestSubnets(
	calls: AwsCalls,
	ec2: EC2Client,
	instanceTypes: readonly string[],
	configured: string,
): Promise<Map<string, string>> {
	const subnets = await candidates(calls, ec2, configured);
	const chosen = new Map<string, string>();
	for (const instanceType of new Set(instanceTypes)) {
		const zones = await zonesOffering(calls, ec2, instanceType);
		const subnet = subnets.find((s) => s.AvailabilityZone && zones.has(s.AvailabilityZone));
		if (subnet?.SubnetId === undefined) {
			const where = subnets.map((s) => s.AvailabilityZone).join(", ") || "no zone";
			throw new PublishError(
				`No subnet the smoke test may use (in ${where}) is in an availability zone that offers ${instanceType}; set the smokeTestSubnet setting to a subnet in one that does (\`aws ec2 describe-instance-type-offerings --region us-east-1 --location-type availability-zone --filters Name=instance-type,Values=${instanceType}\`), or release with --no-smoke-test.`,
			);
		}
		chosen.set(instanceType, subnet.SubnetId);
	}
	return chosen;
}
