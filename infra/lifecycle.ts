import { ManagedPolicy, Role } from "aws-cdk-lib/aws-iam";
import { CfnLifecyclePolicy } from "aws-cdk-lib/aws-imagebuilder";
import { Construct } from "constructs";
import { imageBuilderPrincipal } from "./distribution.ts";
import { acceptManagedPolicy } from "./findings.ts";
import { LIFECYCLE_TAG_KEY, MANAGED_BY } from "./vocabulary.ts";

export interface AmiLifecycleProps {
	name: string;
	lifecycleTagValue: string;
	keep: number;
	maxAgeDays: number;
}

/**
 * Deletes published AMIs and their snapshots once they are older than
 * `maxAgeDays`, always keeping the newest `keep`. It selects the Image Builder
 * images that DistributeImage created with the lifecycle tag.
 */
export class AmiLifecycle extends Construct {
	/** The policy's name, known before it exists (IAM statements that create it need it). */
	readonly name: string;
	readonly policy: CfnLifecyclePolicy;
	readonly executionRole: Role;

	constructor(scope: Construct, id: string, props: AmiLifecycleProps) {
		super(scope, id);
		this.name = props.name;
		this.executionRole = new Role(this, "ExecutionRole", {
			assumedBy: imageBuilderPrincipal(this),
			description: "Assumed by EC2 Image Builder to apply the nix-images AMI lifecycle policy.",
			managedPolicies: [
				ManagedPolicy.fromAwsManagedPolicyName(
					"service-role/EC2ImageBuilderLifecycleExecutionPolicy",
				),
			],
		});
		acceptManagedPolicy(
			this.executionRole,
			"service-role/EC2ImageBuilderLifecycleExecutionPolicy",
			"The service role policy AWS maintains for lifecycle execution roles: every EC2 change it allows is limited to resources tagged CreatedBy=EC2 Image Builder, and it follows the service as it changes.",
		);
		this.policy = new CfnLifecyclePolicy(this, "Resource", {
			name: props.name,
			description: `Keep at least ${props.keep} nix-images AMIs; delete older than ${props.maxAgeDays} days with their snapshots.`,
			executionRole: this.executionRole.roleArn,
			resourceType: "AMI_IMAGE",
			resourceSelection: { tagMap: { [LIFECYCLE_TAG_KEY]: props.lifecycleTagValue } },
			policyDetails: [
				{
					action: { type: "DELETE", includeResources: { amis: true, snapshots: true } },
					filter: { type: "AGE", value: props.maxAgeDays, unit: "DAYS", retainAtLeast: props.keep },
				},
			],
			status: "ENABLED",
			tags: { [MANAGED_BY.key]: MANAGED_BY.value },
		});
	}
}
