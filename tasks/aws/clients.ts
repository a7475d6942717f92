/**
 * The AWS SDK clients tasks hand to the SDK steps in infra/. The SDK's own retries are
 * off (maxAttempts 1): infra/sdk/retry.ts holds the one retry budget, with
 * a timeout on every attempt, so retries never stack. Credentials come from
 * the SDK's default chain (AWS_PROFILE works), and its endpoint settings
 * (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>) still apply.
 */
import type { CloudFormationClient } from "@aws-sdk/client-cloudformation";
import type { EBSClient } from "@aws-sdk/client-ebs";
import type { EC2Client } from "@aws-sdk/client-ec2";
import type { ECRPUBLICClient } from "@aws-sdk/client-ecr-public";
import type { ImagebuilderClient } from "@aws-sdk/client-imagebuilder";
import type { ServiceQuotasClient } from "@aws-sdk/client-service-quotas";
import type { SSMClient } from "@aws-sdk/client-ssm";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { HOME_REGION } from "../../infra/vocabulary.ts";

/**
 * What every client gets: the region, no SDK retries, and a request timeout.
 * Requests go through Bun's own fetch (kept-alive connections), not
 * node:http: publishing a 2 GiB image peaked at about 220 MiB of memory
 * through node:http and at about 150 MiB through fetch (`bun run bench
 * publish-task`), since node:http's buffers of each 512 KiB block outlive it.
 * The block upload bounds the requests in flight itself (UPLOAD_CONCURRENCY).
 */
export function clientSettings(region: string) {
	return {
		region,
		maxAttempts: 1,
		// A hung answer fails here at the latest; the attempt timeout of retry.ts comes first.
		requestHandler: new FetchHttpHandler({ requestTimeout: 30_000, keepAlive: true }),
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
	/** SSM in any region (each region's AMI parameter), made on first use. */
	ssmIn: (region: string) => SSMClient;
	/** Service Quotas in any region (each region's public-AMI quota), made on first use. */
	serviceQuotasIn: (region: string) => ServiceQuotasClient;
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

/**
 * The clients, each made (and its SDK package loaded) on first use: a
 * publish of the disk image alone never loads ECR Public's, Image Builder's
 * or SSM's, which saves their memory (tens of MiB) and start-up.
 */
export function publishClients(region = HOME_REGION): PublishClients & { close: () => void } {
	const made: unknown[] = [];
	const once = <T>(make: () => T): (() => T) => {
		let client: T | undefined;
		return () => {
			if (client === undefined) {
				client = make();
				made.push(client);
			}
			return client;
		};
	};
	// require, not import: the getters are synchronous, and a static import would load every package.
	const ec2Of = (at: string) =>
		new (require("@aws-sdk/client-ec2") as typeof import("@aws-sdk/client-ec2")).EC2Client(
			clientSettings(at),
		);
	const ec2 = once(() => ec2Of(region));
	const regional = once(() =>
		ec2ByRegion(
			(other) => {
				const client = ec2Of(other);
				made.push(client);
				return client;
			},
			ec2(),
			region,
		),
	);
	const cloudFormation = once(
		() =>
			new (
				require("@aws-sdk/client-cloudformation") as typeof import("@aws-sdk/client-cloudformation")
			).CloudFormationClient(clientSettings(region)),
	);
	const ebs = once(
		() =>
			new (require("@aws-sdk/client-ebs") as typeof import("@aws-sdk/client-ebs")).EBSClient(
				clientSettings(region),
			),
	);
	const ecrPublic = once(
		() =>
			new (
				require("@aws-sdk/client-ecr-public") as typeof import("@aws-sdk/client-ecr-public")
			).ECRPUBLICClient(clientSettings(region)),
	);
	const imagebuilder = once(
		() =>
			new (
				require("@aws-sdk/client-imagebuilder") as typeof import("@aws-sdk/client-imagebuilder")
			).ImagebuilderClient(clientSettings(region)),
	);
	const ssm = once(
		() =>
			new (require("@aws-sdk/client-ssm") as typeof import("@aws-sdk/client-ssm")).SSMClient(
				clientSettings(region),
			),
	);
	return {
		region,
		get cloudFormation() {
			return cloudFormation();
		},
		get ebs() {
			return ebs();
		},
		get ec2() {
			return ec2();
		},
		get ecrPublic() {
			return ecrPublic();
		},
		get imagebuilder() {
			return imagebuilder();
		},
		get ssm() {
			return ssm();
		},
		ec2In: (other) => regional().ec2In(other),
		ssmIn: perRegion(
			(at) =>
				new (require("@aws-sdk/client-ssm") as typeof import("@aws-sdk/client-ssm")).SSMClient(
					clientSettings(at),
				),
			made,
		),
		serviceQuotasIn: perRegion(
			(at) =>
				new (
					require("@aws-sdk/client-service-quotas") as typeof import("@aws-sdk/client-service-quotas")
				).ServiceQuotasClient(clientSettings(at)),
			made,
		),
		close: () => closeClients(made),
	};
}

/** A client per region, made on first use of each region, remembered in `made` for closing. */
export function perRegion<T>(make: (region: string) => T, made: unknown[]): (region: string) => T {
	const clients = new Map<string, T>();
	return (region) => {
		let client = clients.get(region);
		if (client === undefined) {
			client = make(region);
			clients.set(region, client);
			made.push(client);
		}
		return client;
	};
}

/** Closes the clients' sockets, so the process can exit. */
export function closeClients(clients: unknown[]): void {
	for (const client of clients) {
		if (client && typeof client === "object" && "destroy" in client) {
			(client as { destroy: () => void }).destroy();
		}
	}
}
