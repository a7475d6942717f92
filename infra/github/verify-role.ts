import { Duration, Stack } from "aws-cdk-lib";
import { PolicyDocument, PolicyStatement, Role } from "aws-cdk-lib/aws-iam";
import type { Construct } from "constructs";
import { ec2ImageArns } from "../arns.ts";
import type { AmiDistribution } from "../distribution.ts";
import { acceptWildcard } from "../findings.ts";
import type { PublicRepository } from "../repository.ts";
import { MANAGED_BY } from "../vocabulary.ts";
import type { GitHubOidc } from "./oidc.ts";
import {
	acceptReadAmiParameters,
	acceptReadStackOutputs,
	readAmiParameters,
	readRepository,
	readStackOutputs,
} from "./statements.ts";

export interface VerifyRoleProps {
	github: GitHubOidc;
	/** The GitHub environment of the verify job (none of the roles' that write). */
	environment: string;
	repository: PublicRepository;
	/** Its AMI parameters, under distribution.parameterPath. */
	distribution: AmiDistribution;
}

/**
 * The role the verify workflow checks a release with, where users get it:
 * exactly the calls `verify` makes (test/roles.test.ts compares the two).
 * It reads the stack's outputs, the AMIs and snapshots in every region, the
 * AMI parameters, the source snapshot's blocks (`--deep`) and the
 * repository's description, and writes nothing: it runs daily and by hand,
 * so it must be harmless in any job that can get it.
 */
export class VerifyRole extends Role {
	constructor(scope: Construct, id: string, props: VerifyRoleProps) {
		const stack = Stack.of(scope);
		const path = props.distribution.parameterPath;
		super(scope, id, {
			assumedBy: props.github.principal(props.environment),
			description: `Verifies nix-images releases, reading only, ${props.github.describe(props.environment)}.`,
			// verify takes minutes, a --deep read-back of two disk images well under the hour.
			maxSessionDuration: Duration.hours(1),
			inlinePolicies: {
				Verify: new PolicyDocument({ statements: verifyStatements(stack, props, path) }),
			},
		});
		acceptReadStackOutputs(this);
		acceptWildcard(
			this,
			"*",
			"ec2:DescribeImages, DescribeSnapshots and GetImageBlockPublicAccessState (the AMIs, their snapshots and public sharing in every region), ecr-public:GetAuthorizationToken and sts:GetServiceBearerToken (limited to ECR Public) support no resource-level permissions; all of them read.",
		);
		acceptWildcard(
			this,
			`arn:<AWS::Partition>:ec2:${stack.region}::snapshot/*`,
			"The --deep read-back lists and reads the blocks of the source snapshot, whose ID is in release.json; it must carry ManagedBy=nix-images (snapshot ARNs carry no account). Reading only.",
		);
		acceptReadAmiParameters(this, path);
	}
}

function verifyStatements(stack: Stack, props: VerifyRoleProps, path: string): PolicyStatement[] {
	const { snapshot } = ec2ImageArns(stack, stack.region);
	return [
		new PolicyStatement({
			sid: "ReadImagesAndPublicSharing",
			actions: [
				"ec2:DescribeImages",
				"ec2:DescribeSnapshots",
				"ec2:GetImageBlockPublicAccessState",
			],
			resources: ["*"],
		}),
		readAmiParameters(stack, path),
		new PolicyStatement({
			sid: "ReadOwnSnapshotBlocks",
			actions: ["ebs:ListSnapshotBlocks", "ebs:GetSnapshotBlock"],
			resources: [snapshot],
			conditions: { StringEquals: { [`aws:ResourceTag/${MANAGED_BY.key}`]: MANAGED_BY.value } },
		}),
		...readRepository(props.repository.repositoryArn),
		readStackOutputs(stack),
	];
}
