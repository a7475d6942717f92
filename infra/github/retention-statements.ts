/**
 * What `release` (the quota check, `--make-room`) and `prune` call to stay
 * within the account's limits, as IAM statements of the release role: reads
 * of the quota and the Recycle Bin, and deletes only of what carries the
 * project's ManagedBy tag, in every region (the copies are everywhere).
 */
import type { Stack } from "aws-cdk-lib";
import { PolicyStatement } from "aws-cdk-lib/aws-iam";
import { ec2ImageArns } from "../arns.ts";
import { COPY_SNAPSHOT_TAG_KEYS, MANAGED_BY } from "../vocabulary.ts";

export function retentionStatements(stack: Stack, repositoryArn: string): PolicyStatement[] {
	const everywhere = ec2ImageArns(stack, "*");
	const managed = { [`aws:ResourceTag/${MANAGED_BY.key}`]: MANAGED_BY.value };
	return [
		new PolicyStatement({
			sid: "ReadPublicAmiQuotaAndRecycleBin",
			actions: [
				"servicequotas:GetServiceQuota",
				"servicequotas:GetAWSDefaultServiceQuota",
				"ec2:ListImagesInRecycleBin",
			],
			resources: ["*"],
		}),
		new PolicyStatement({
			sid: "RetireOwnImagesEverywhere",
			// Launch permission removed first, then deregistered: only AMIs this project tagged.
			actions: ["ec2:ModifyImageAttribute", "ec2:DeregisterImage"],
			resources: [everywhere.image],
			conditions: { StringEquals: managed },
		}),
		new PolicyStatement({
			sid: "DeleteOwnSnapshotsEverywhere",
			actions: ["ec2:DeleteSnapshot"],
			resources: [everywhere.snapshot],
			conditions: { StringEquals: managed },
		}),
		new PolicyStatement({
			sid: "TagCopiesSnapshots",
			// Only these keys, ManagedBy set to the project's, and never over another owner's ManagedBy.
			actions: ["ec2:CreateTags"],
			resources: [everywhere.snapshot],
			conditions: {
				StringEquals: { [`aws:RequestTag/${MANAGED_BY.key}`]: MANAGED_BY.value },
				StringEqualsIfExists: managed,
				"ForAllValues:StringEquals": { "aws:TagKeys": [...COPY_SNAPSHOT_TAG_KEYS] },
			},
		}),
		new PolicyStatement({
			sid: "DeleteUnkeptContainerImages",
			// ECR Public has no lifecycle rules; IAM cannot limit which tags (see docs/retention.md).
			actions: ["ecr-public:DescribeImages", "ecr-public:BatchDeleteImage"],
			resources: [repositoryArn],
		}),
	];
}
