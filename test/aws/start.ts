/** A stand-in of every service publishing and releasing call, over a fresh world with the deployed stack in it. */
import { ecrPublicService } from "./ecr-public.ts";
import { imageBuilderService, releaseEc2Handlers } from "./release-services.ts";
import { serviceQuotasService } from "./service-quotas.ts";
import { cloudFormationService, ebsService, ec2Service } from "./services.ts";
import { ssmService } from "./ssm.ts";
import { type Service, type StandIn, startStandIn } from "./stand-in.ts";
import { createWorld, stackOutputs, type World } from "./world.ts";

/** A service with more operations: release's EC2 calls beside publish's. */
function withHandlers(service: Service, more: Service["handlers"]): Service {
	return { ...service, handlers: { ...service.handlers, ...more } };
}

export async function standInAccount(): Promise<{ world: World; standIn: StandIn }> {
	const world = createWorld();
	world.stacks.set("Production", { status: "CREATE_COMPLETE", outputs: stackOutputs() });
	const standIn = await startStandIn({
		ebs: ebsService(world),
		ec2: withHandlers(ec2Service(world), releaseEc2Handlers(world)),
		cloudformation: cloudFormationService(world),
		"ecr-public": ecrPublicService(world),
		imagebuilder: imageBuilderService(world),
		ssm: ssmService(world),
		servicequotas: serviceQuotasService(world),
	});
	return { world, standIn };
}
