/**
 * What retention must never take: the AMIs users get now, named by the
 * current release.json (where this machine has one) and by every system's
 * SSM parameter in every region (what templates resolve). Only reads.
 */
import { GetParameterCommand } from "@aws-sdk/client-ssm";
import { errorCode } from "../../infra/sdk/errors.ts";
import type { AwsSession } from "../aws/session.ts";
import type { ReleaseManifest } from "../release/manifest.ts";

/** Every AMI id the current release.json or an AMI parameter names, in these regions. */
export async function namedAmis(
	{ clients, calls, stack }: AwsSession,
	regions: readonly string[],
	current: ReleaseManifest | undefined,
): Promise<Set<string>> {
	const named = new Set<string>();
	for (const release of Object.values(current?.amis ?? {})) {
		named.add(release.sourceImage.imageId);
		for (const imageId of Object.values(release.regions)) named.add(imageId);
	}
	const parameters = Object.values(JSON.parse(stack.AmiParameterNames) as Record<string, string>);
	await Promise.all(
		regions.flatMap((region) =>
			parameters.map(async (name) => {
				try {
					const { Parameter } = await calls.read(
						clients.ssmIn(region),
						new GetParameterCommand({ Name: name }),
					);
					if (Parameter?.Value) named.add(Parameter.Value);
				} catch (error) {
					if (errorCode(error) !== "ParameterNotFound") throw error;
				}
			}),
		),
	);
	return named;
}
