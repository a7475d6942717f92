/**
 * `account`: checks an AWS account before its first release, reading only:
 * per region of the stack's settings, whether it is enabled, the public-AMI
 * quota and what uses it, image block public access and EBS encryption by
 * default (and its key); in us-east-1 where the smoke test can launch. With
 * --request-public-ami-quota N it asks Service Quotas for N in every region
 * where the quota is lower, not again where a request is open.
 */
import { DescribeRegionsCommand, GetImageBlockPublicAccessStateCommand } from "@aws-sdk/client-ec2";
import { awsManagedKey, ebsEncryption } from "../infra/account/encryption.ts";
import { publicAmiQuota, publicAmiUsage } from "../infra/account/quota.ts";
import { requestPublicAmiQuota } from "../infra/account/quota-request.ts";
import { smokeTestSubnets } from "../infra/release/smoke-test-subnet.ts";
import { PublishError } from "../infra/sdk/errors.ts";
import { HOME_REGION, SMOKE_TEST_DEFAULT_VPC, SYSTEM_ARCHITECTURES } from "../infra/vocabulary.ts";
import { withAws } from "./aws/session.ts";
import { cdkContext, stackSettings } from "./cdk/context.ts";
import type { AccountOptions } from "./project/options.ts";
import { UsageError } from "./runner/errors.ts";
import type { TaskContext } from "./runner/task.ts";

/** --request-public-ami-quota: a whole number above AWS's default. */
function desiredQuota(given: string | undefined): number | undefined {
	if (given === undefined) return undefined;
	if (!/^\d+$/.test(given) || Number(given) < 6 || Number(given) > 1000) {
		throw new UsageError(
			`--request-public-ami-quota must be a whole number from 6 to 1000 (AWS's default is 5), not "${given}".`,
		);
	}
	return Number(given);
}

function table(rows: readonly string[][]): string {
	const widths = (rows[0] ?? []).map((_, column) =>
		Math.max(...rows.map((row) => (row[column] ?? "").length)),
	);
	return rows
		.map((row) =>
			row
				.map((cell, column) => cell.padEnd(widths[column] ?? 0))
				.join("  ")
				.trimEnd(),
		)
		.join("\n");
}

export default async function account(context: TaskContext<AccountOptions>) {
	const { root, log } = context;
	const desired = desiredQuota(context.options["request-public-ami-quota"]);
	const settings = stackSettings(cdkContext(root));
	await withAws(context, async (clients, calls) => {
		const { Regions } = await calls.read(
			clients.ec2,
			new DescribeRegionsCommand({ AllRegions: true }),
		);
		const enabled = new Set(
			(Regions ?? [])
				.filter((region) => region.OptInStatus !== "not-opted-in")
				.flatMap((region) => region.RegionName ?? []),
		);
		const rows = [
			["region", "enabled", "public AMIs", "block public access", "EBS encryption by default"],
		];
		const problems: string[] = [];
		const requests: string[] = [];
		for (const region of settings.regions) {
			if (!enabled.has(region)) {
				rows.push([region, "no", "–", "–", "–"]);
				problems.push(
					`${region} is not enabled for the account (enable it, or leave it out of the regions setting)`,
				);
				continue;
			}
			const ec2 = clients.ec2In(region);
			const [quota, usage, access, encryption] = await Promise.all([
				publicAmiQuota(calls, clients.serviceQuotasIn(region)),
				publicAmiUsage(calls, ec2),
				calls.read(ec2, new GetImageBlockPublicAccessStateCommand({})),
				ebsEncryption(calls, ec2),
			]);
			const used = usage.public.length + usage.inRecycleBin;
			const blocked = access.ImageBlockPublicAccessState === "block-new-sharing";
			rows.push([
				region,
				"yes",
				`${used} of ${quota.value}${quota.source === "assumed" ? " (AWS's default; unreadable)" : ""}`,
				blocked ? "on" : "off",
				encryption.byDefault ? `on (${encryption.kmsKeyId})` : "off",
			]);
			const perRelease = Object.keys(SYSTEM_ARCHITECTURES).length;
			if (settings.publicAmis && used + perRelease > quota.value) {
				problems.push(
					`${region} has room for no release (${used} of ${quota.value} public AMIs used, ${perRelease} needed)`,
				);
			}
			if (settings.publicAmis && blocked)
				problems.push(`image block public access is on in ${region}`);
			if (encryption.byDefault && (settings.publicAmis || !awsManagedKey(encryption.kmsKeyId))) {
				problems.push(
					`EBS encryption by default in ${region} stops ${settings.publicAmis ? "public AMIs" : "this project's roles (customer-managed key)"}`,
				);
			}
			if (desired !== undefined && quota.value < desired) {
				const request = await requestPublicAmiQuota(
					calls,
					clients.serviceQuotasIn(region),
					desired,
				);
				if (request) {
					requests.push(
						`${region}: ${request.requestId} (${request.asked ? `asked for ${desired}` : `already open, ${request.status}`})`,
					);
				}
			}
		}
		process.stdout.write(`${table(rows)}\n`);
		try {
			const subnets = await smokeTestSubnets(
				calls,
				clients.ec2,
				Object.values(SYSTEM_ARCHITECTURES).map((system) => system.smoke),
				settings.smokeTestSubnet ?? SMOKE_TEST_DEFAULT_VPC,
			);
			process.stdout.write(
				`smoke test in ${HOME_REGION}: ${[...subnets].map(([type, subnet]) => `${type} in ${subnet}`).join(", ")}\n`,
			);
		} catch (error) {
			if (!(error instanceof PublishError)) throw error;
			problems.push(`the smoke test has nowhere to launch: ${error.message}`);
		}
		for (const request of requests) process.stdout.write(`quota request ${request}\n`);
		if (problems.length > 0) log(`before the first release: ${problems.join("; ")}.`);
		else log("the account is ready for a release.");
	});
}
