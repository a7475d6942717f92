/** SDK clients configured as tasks/aws/clients.ts does, pointed at a stand-in (for in-process tests). */
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { EBSClient } from "@aws-sdk/client-ebs";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ECRPUBLICClient } from "@aws-sdk/client-ecr-public";
import { clientSettings, type PublishClients } from "../../tasks/aws/clients.ts";
import type { StandIn } from "./stand-in.ts";

export function standInClients(standIn: StandIn): PublishClients {
	const settings = {
		...clientSettings("us-east-1"),
		endpoint: standIn.url,
		credentials: {
			accessKeyId: standIn.env.AWS_ACCESS_KEY_ID ?? "",
			secretAccessKey: standIn.env.AWS_SECRET_ACCESS_KEY ?? "",
		},
	};
	return {
		region: "us-east-1",
		cloudFormation: new CloudFormationClient(settings),
		ebs: new EBSClient(settings),
		ec2: new EC2Client(settings),
		ecrPublic: new ECRPUBLICClient(settings),
	};
}
