import { ManagedPolicy, Role } from "aws-cdk-lib/aws-iam";
import { CfnLifecyclePolicy } from "aws-cdk-lib/aws-imagebuilder";
import { Construct } from "constructs";
import { imageBuilderPrincipal } from "./distribution.ts";
import { acceptManagedPolicy } from "./findings.ts";
import { LIFECYCLE_TAG_KEY, lifecycleTagValue, MANAGED_BY } from "./vocabulary.ts";

export interface AmiLifecycleProps {
	/** Lower-case base of the policies' names: `<name>-<system>`. */
	name: string;
	/** The stack's name, in each system's lifecycle tag value. */
	stackName: string;
	systems: readonly string[];
	keep: number;
	maxAgeDays: number;
}

/**
 * Deletes published AMIs and their snapshots once they are older than
 * `maxAgeDays`, always keeping the newest `keep` of each system: one policy
 * per system, each selecting the AMIs tagged with that system's lifecycle
 * value (publish tags the source, the distribution its copies), so one
 * system's releases never count against another's.
 */
export class AmiLifecycle extends Construct {
	/** Each system's policy name, known before it exists (IAM statements that create it need it). */
	readonly names: Record<string, string>;
	/** The single policy of versions before one per system (replaced, so deleted, on deploy). */
	readonly previousName: string;
	readonly policies: Record<string, CfnLifecyclePolicy>;
	readonly executionRole: Role;

	constructor(scope: Construct, id: string, props: AmiLifecycleProps) {
		super(scope, id);
		this.previousName = props.name;
		this.names = Object.fromEntries(
			props.systems.map((system) => [system, `${props.name}-${system}`]),
		);
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
		this.policies = Object.fromEntries(
			props.systems.map((system) => [
				system,
				new CfnLifecyclePolicy(this, system, {
					name: this.names[system] as string,
					description: `Keep at least ${props.keep} nix-images AMIs of ${system}; delete older than ${props.maxAgeDays} days with their snapshots.`,
					executionRole: this.executionRole.roleArn,
					resourceType: "AMI_IMAGE",
					resourceSelection: {
						tagMap: { [LIFECYCLE_TAG_KEY]: lifecycleTagValue(props.stackName, system) },
					},
					policyDetails: [
						{
							action: { type: "DELETE", includeResources: { amis: true, snapshots: true } },
							filter: {
								type: "AGE",
								value: props.maxAgeDays,
								unit: "DAYS",
								retainAtLeast: props.keep,
							},
						},
					],
					status: "ENABLED",
					tags: { [MANAGED_BY.key]: MANAGED_BY.value },
				}),
			]),
		);
	}
}
