/**
 * The stand-in's ECR Public control API (JSON 1.1): where a repository is,
 * and a registry login. The registry itself is a real one (test/registry.ts).
 */
import { AwsError, type Service } from "./stand-in.ts";
import { ACCOUNT, type World } from "./world.ts";

export function ecrPublicService(world: World): Service {
	const input = (body: Buffer) => (body.length > 0 ? JSON.parse(body.toString()) : {});
	return {
		protocol: "json",
		operation: ({ headers }) =>
			String(headers["x-amz-target"] ?? "")
				.split(".")
				.pop() ?? "",
		handlers: {
			DescribeRepositories: ({ body }) => {
				const names: string[] = input(body).repositoryNames ?? [...world.repositories.keys()];
				for (const name of names) {
					if (!world.repositories.has(name)) {
						throw new AwsError(
							"RepositoryNotFoundException",
							`The repository with name '${name}' does not exist in the registry with id '${ACCOUNT}'`,
						);
					}
				}
				return {
					body: {
						repositories: names.map((name) => ({
							repositoryName: name,
							repositoryUri: world.repositories.get(name),
							repositoryArn: `arn:aws:ecr-public::${ACCOUNT}:repository/${name}`,
							registryId: ACCOUNT,
							createdAt: 1_780_000_000,
						})),
					},
				};
			},
			GetAuthorizationToken: () => ({
				body: {
					authorizationData: {
						authorizationToken: Buffer.from(`AWS:${world.registryPassword}`).toString("base64"),
						expiresAt: Date.now() / 1000 + 43_200,
					},
				},
			}),
		},
	};
}
