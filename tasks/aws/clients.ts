/**
 * The AWS SDK clients tasks hand to the SDK steps in infra/. The SDK's own retries are
 * off (maxAttempts 1): infra/sdk/retry.ts holds the one retry budget, with
 * a timeout on every attempt, so retries never stack. Credentials come from
 * the SDK's default chain (AWS_PROFILE works), and its endpoint settings
 * (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>) still apply.
 */
import { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import { EBSClient } from "@aws-sdk/client-ebs";
import { EC2Client } from "@aws-sdk/client-ec2";
import { ECRPUBLICClient } from "@aws-sdk/client-ecr-public";
import { ImagebuilderClient } from "@aws-sdk/client-imagebuilder";
import { SSMClient } from "@aws-sdk/client-ssm";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { UPLOAD_CONCURRENCY } from "../../infra/publish/blocks.ts";
import { HOME_REGION } from "../../infra/vocabulary.ts";

/** Sockets kept open per client: as many as the block upload has requests in flight. */
const MAX_SOCKETS = UPLOAD_CONCURRENCY;

/** What every client gets: the region, no SDK retries, and socket timeouts. */
export function clientSettings(region: string) {
	return {
		region,
		maxAttempts: 1,
		requestHandler: new NodeHttpHandler({
			connectionTimeout: 5_000,
			// Idle socket: a hung answer fails here at the latest; the attempt timeout of retry.ts comes first.
			requestTimeout: 30_000,
			httpAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
			httpsAgent: { keepAlive: true, maxSockets: MAX_SOCKETS },
		}),
	};
}

export interface PublishClients {
	region: string;
	cloudFormation: CloudFormationClient;
	ebs: EBSClient;
	ec2: EC2Client;
	ecrPublic: ECRPUBLICClient;
	imagebuilder: ImagebuilderClient;
	ssm: SSMClient;
	/** EC2 in another region (the distribution's regions), made on first use. */
	ec2In: (region: string) => EC2Client;
}

/** EC2 clients by region, made once each. */
export function ec2ByRegion(
	make: (region: string) => EC2Client,
	home: EC2Client,
	homeRegion: string,
) {
	const clients = new Map<string, EC2Client>([[homeRegion, home]]);
	const ec2In = (region: string) => {
		let client = clients.get(region);
		if (client === undefined) {
			client = make(region);
			clients.set(region, client);
		}
		return client;
	};
	return { ec2In, all: () => [...clients.values()] };
}

export function publishClients(region = HOME_REGION): PublishClients & { close: () => void } {
	const ec2 = new EC2Client(clientSettings(region));
	const regional = ec2ByRegion((other) => new EC2Client(clientSettings(other)), ec2, region);
	const clients = {
		region,
		cloudFormation: new CloudFormationClient(clientSettings(region)),
		ebs: new EBSClient(clientSettings(region)),
		ec2,
		ecrPublic: new ECRPUBLICClient(clientSettings(region)),
		imagebuilder: new ImagebuilderClient(clientSettings(region)),
		ssm: new SSMClient(clientSettings(region)),
		ec2In: regional.ec2In,
	};
	return { ...clients, close: () => closeClients([...Object.values(clients), ...regional.all()]) };
}

/** Closes the clients' sockets, so the process can exit. */
export function closeClients(clients: unknown[]): void {
	for (const client of clients) {
		if (client && typeof client === "object" && "destroy" in client) {
			(client as { destroy: () => void }).destroy();
		}
	}
}
