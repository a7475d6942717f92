/** A stand-in with EBS, EC2, CloudFormation and ECR Public over a fresh world, and the deployed stack in it. */
import { ecrPublicService } from "./ecr-public.ts";
import { cloudFormationService, ebsService, ec2Service } from "./services.ts";
import { type StandIn, startStandIn } from "./stand-in.ts";
import { createWorld, stackOutputs, type World } from "./world.ts";

export async function standInAccount(): Promise<{ world: World; standIn: StandIn }> {
	const world = createWorld();
	world.stacks.set("Production", { status: "CREATE_COMPLETE", outputs: stackOutputs() });
	const standIn = await startStandIn({
		ebs: ebsService(world),
		ec2: ec2Service(world),
		cloudformation: cloudFormationService(world),
		"ecr-public": ecrPublicService(world),
	});
	return { world, standIn };
}
