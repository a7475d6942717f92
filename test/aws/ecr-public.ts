/**
 * The stand-in's ECR Public control API (JSON 1.1): where a repository is,
 * a registry login, and the repository's images as ECR Public lists and
 * deletes them. The registry itself is a real one (test/registry.ts): its
 * images are read from its storage and deleted through its API.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { AwsError, type Service } from "./stand-in.ts";
import { ACCOUNT, type World } from "./world.ts";

/** The registry's storage of a repository (`alias/nix`): manifests by digest, tags → digest. */
function storage(world: World, name: string) {
	const registry = world.registry;
	const uri = world.repositories.get(name);
	if (registry === undefined || uri === undefined) {
		throw new AwsError(
			"RepositoryNotFoundException",
			`The repository ${name} has no registry here.`,
		);
	}
	const path = uri.slice(registry.host.length + 1);
	const root = join(registry.dir, "data/docker/registry/v2/repositories", path, "_manifests");
	const revisions = join(root, "revisions/sha256");
	const tags = join(root, "tags");
	const manifests = existsSync(revisions)
		? readdirSync(revisions).filter((hex) => existsSync(join(revisions, hex, "link")))
		: [];
	const tagged = new Map<string, string[]>();
	for (const tag of existsSync(tags) ? readdirSync(tags) : []) {
		const link = join(tags, tag, "current/link");
		if (!existsSync(link)) continue;
		const digest = readFileSync(link, "utf8").trim();
		tagged.set(digest, [...(tagged.get(digest) ?? []), tag]);
	}
	return {
		registry,
		path,
		images: manifests.map((hex) => ({
			digest: `sha256:${hex}`,
			tags: (tagged.get(`sha256:${hex}`) ?? []).sort(),
			pushedAt: statSync(join(revisions, hex, "link")).mtimeMs / 1000,
		})),
	};
}

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
			DescribeImages: ({ body }) => {
				const { repositoryName } = input(body);
				return {
					body: {
						imageDetails: storage(world, repositoryName).images.map((image) => ({
							registryId: ACCOUNT,
							repositoryName,
							imageDigest: image.digest,
							imageTags: image.tags,
							imagePushedAt: image.pushedAt,
						})),
					},
				};
			},
			BatchDeleteImage: async ({ body }) => {
				const { repositoryName, imageIds } = input(body);
				const { registry, path, images } = storage(world, repositoryName);
				const imageIdsDeleted: { imageDigest: string }[] = [];
				const failures: { imageId: { imageDigest: string }; failureCode: string }[] = [];
				for (const { imageDigest } of imageIds as { imageDigest: string }[]) {
					if (!images.some((image) => image.digest === imageDigest)) {
						failures.push({ imageId: { imageDigest }, failureCode: "ImageNotFound" });
						continue;
					}
					// Through the registry's API, which also drops the tags that point at it.
					const response = await fetch(
						`https://${registry.host}/v2/${path}/manifests/${imageDigest}`,
						{
							method: "DELETE",
							headers: {
								authorization: `Basic ${Buffer.from(`AWS:${registry.password}`).toString("base64")}`,
							},
							tls: { ca: readFileSync(registry.cert, "utf8") },
						},
					);
					if (response.status !== 202)
						throw new Error(`registry DELETE answered ${response.status}`);
					imageIdsDeleted.push({ imageDigest });
				}
				return { body: { imageIds: imageIdsDeleted, failures } };
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
