/**
 * The ECR Public repository publish pushes to: its URI (the registry alias is
 * no stack output), and a registry login. ECR Public's API lives in us-east-1.
 */
import {
	DescribeRepositoriesCommand,
	type ECRPUBLICClient,
	GetAuthorizationTokenCommand,
} from "@aws-sdk/client-ecr-public";
import type { AwsCalls } from "./calls.ts";
import { errorCode, PublishError } from "./errors.ts";

/** The repository's URI, e.g. public.ecr.aws/<alias>/nix, by its name (a stack output). */
export async function repositoryUri(
	calls: AwsCalls,
	ecrPublic: ECRPUBLICClient,
	name: string,
	stackName: string,
): Promise<string> {
	try {
		const found = await calls.read(
			ecrPublic,
			new DescribeRepositoriesCommand({ repositoryNames: [name] }),
		);
		const uri = found.repositories?.[0]?.repositoryUri;
		if (uri) return uri;
	} catch (error) {
		if (errorCode(error) !== "RepositoryNotFoundException") throw error;
	}
	throw new PublishError(
		`The ECR Public repository ${name} of the stack ${stackName} does not exist; run \`bun task deploy\` first.`,
	);
}

/**
 * A login for the registry, as a Docker auth file entry ("auth": base64 of
 * user:password). It is a secret: the caller writes it only to a private file.
 * Only reads (a fresh token each time).
 */
export async function registryAuth(calls: AwsCalls, ecrPublic: ECRPUBLICClient): Promise<string> {
	const { authorizationData } = await calls.read(ecrPublic, new GetAuthorizationTokenCommand({}));
	const token = authorizationData?.authorizationToken;
	if (!token) throw new PublishError("ECR Public gave no authorization token; run the task again.");
	return token;
}
