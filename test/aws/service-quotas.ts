/**
 * The stand-in's Service Quotas (JSON 1.1), per region: EC2's "Public AMIs"
 * quota (AWS's default of 5 unless the world sets another), and quota
 * increase requests, which stay pending.
 */
import { PUBLIC_AMI_QUOTA } from "../../infra/vocabulary.ts";
import { AwsError, type Service } from "./stand-in.ts";
import type { World } from "./world.ts";

export function serviceQuotasService(world: World): Service {
	const input = (body: Buffer) => (body.length > 0 ? JSON.parse(body.toString()) : {});
	const ours = (body: Buffer) => {
		const { ServiceCode, QuotaCode } = input(body);
		if (ServiceCode !== PUBLIC_AMI_QUOTA.serviceCode || QuotaCode !== PUBLIC_AMI_QUOTA.quotaCode) {
			throw new AwsError(
				"NoSuchResourceException",
				`The stand-in knows no quota ${ServiceCode}/${QuotaCode}.`,
			);
		}
	};
	const quota = (value: number) => ({
		ServiceCode: PUBLIC_AMI_QUOTA.serviceCode,
		QuotaCode: PUBLIC_AMI_QUOTA.quotaCode,
		QuotaName: "Public AMIs",
		Value: value,
		Adjustable: true,
	});
	return {
		protocol: "json",
		operation: ({ headers }) =>
			String(headers["x-amz-target"] ?? "")
				.split(".")
				.pop() ?? "",
		handlers: {
			// A quota never changed has no applied value: AWS answers NoSuchResourceException.
			GetServiceQuota: ({ body, region }) => {
				ours(body);
				const value = world.publicAmiQuota.get(region);
				if (value === undefined) throw new AwsError("NoSuchResourceException", "No applied quota.");
				return { body: { Quota: quota(value) } };
			},
			GetAWSDefaultServiceQuota: ({ body }) => {
				ours(body);
				return { body: { Quota: quota(PUBLIC_AMI_QUOTA.awsDefault) } };
			},
			ListRequestedServiceQuotaChangeHistoryByQuota: ({ body, region }) => {
				ours(body);
				return {
					body: {
						RequestedQuotas: world.quotaRequests
							.filter((request) => request.region === region)
							.map((request) => ({
								Id: request.id,
								Status: request.status,
								DesiredValue: request.desired,
								...quota(request.desired),
							})),
					},
				};
			},
			RequestServiceQuotaIncrease: ({ body, region }) => {
				ours(body);
				const request = {
					id: world.nextId("quota-request"),
					region,
					desired: Number(input(body).DesiredValue),
					status: "PENDING",
				};
				world.quotaRequests.push(request);
				return {
					body: {
						RequestedQuota: {
							Id: request.id,
							Status: request.status,
							DesiredValue: request.desired,
						},
					},
				};
			},
		},
	};
}

/** A region's public-AMI quota as the stand-in enforces it. */
export function publicAmiQuotaIn(world: World, region: string): number {
	return world.publicAmiQuota.get(region) ?? PUBLIC_AMI_QUOTA.awsDefault;
}

/** What uses it: the region's public AMIs and every AMI in its Recycle Bin (the public ones count). */
export function publicAmisIn(world: World, region: string): number {
	return (
		[...world.images.values()].filter((image) => image.region === region && image.public).length +
		world.recycleBin.filter((image) => image.region === region && image.public).length
	);
}
