/** SDK clients configured as tasks/aws/clients.ts does, pointed at a stand-in (for in-process tests). */
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { EBSClient } from "@aws-sdk/client-ebs";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ECRPUBLICClient } from "@aws-sdk/client-ecr-public";
import { ImagebuilderClient } from "@aws-sdk/client-imagebuilder";
import { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import { SSMClient } from "@aws-sdk/client-ssm";
import {
	clientSettings,
	ec2ByRegion,
	type PublishClients,
	perRegion,
} from "../../tasks/aws/clients.ts";
import type { StandIn } from "./stand-in.ts";

export function standInClients(standIn: StandIn): PublishClients {
	const settings = (region: string) => ({
		...clientSettings(region),
		endpoint: standIn.url,
		credentials: {
			accessKeyId: standIn.env.AWS_ACCESS_KEY_ID ?? "",
			secretAccessKey: standIn.env.AWS_SECRET_ACCESS_KEY ?? "",
		},
	});
	const ec2 = new EC2Client(settings("us-east-1"));
	return {
		region: "us-east-1",
		cloudFormation: new CloudFormationClient(settings("us-east-1")),
		ebs: new EBSClient(settings("us-east-1")),
		ec2,
		ecrPublic: new ECRPUBLICClient(settings("us-east-1")),
		imagebuilder: new ImagebuilderClient(settings("us-east-1")),
		ssm: new SSMClient(settings("us-east-1")),
		ec2In: ec2ByRegion((region) => new EC2Client(settings(region)), ec2, "us-east-1").ec2In,
		ssmIn: perRegion((region) => new SSMClient(settings(region)), []),
		serviceQuotasIn: perRegion((region) => new ServiceQuotasClient(settings(region)), []),
	};
}
