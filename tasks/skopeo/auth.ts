/**
 * The registry login as skopeo and podman read it: an auth file in a private
 * place, never on a command line, in an environment or in a log.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ECRPUBLICClient } from "@aws-sdk/client-ecr-public";
import type { AwsCalls } from "../../infra/sdk/calls.ts";
import { registryAuth } from "../../infra/sdk/ecr-public.ts";
import { privateDirectory, temporaryBase } from "../project/files.ts";
import type { TaskContext } from "../runner/task.ts";

/** Files the registry tools read: the login, a signature policy, and room for their own state. */
export interface SkopeoFiles {
	authFile: string;
	policy: string;
	/** The private directory that holds them, with room for a tool's own storage (podman's). */
	dir: string;
}

/** The login for the registry of `repositoryUri` (ECR Public's token), in a private place. */
export async function registryFiles(
	context: TaskContext,
	calls: AwsCalls,
	ecrPublic: ECRPUBLICClient,
	repositoryUri: string,
): Promise<SkopeoFiles> {
	const registry = repositoryUri.split("/")[0] ?? repositoryUri;
	return privateFiles(context, registry, await registryAuth(calls, ecrPublic));
}

/**
 * The registry login in a private place: a private directory of this run
 * (see privateDirectory: a kill -9's is removed by the next run), with the
 * auth file mode 0600. Only its path ever appears on a command line.
 */
function privateFiles(context: TaskContext, registry: string, auth: string): SkopeoFiles {
	const dir = privateDirectory(context, temporaryBase(), "nix-images-auth-");
	const files = { authFile: join(dir, "auth.json"), policy: join(dir, "policy.json"), dir };
	writeFileSync(files.authFile, JSON.stringify({ auths: { [registry]: { auth } } }), {
		mode: 0o600,
	});
	// Our own image, pushed by us: no signature requirement (the system's policy may not exist).
	writeFileSync(files.policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }), {
		mode: 0o600,
	});
	return files;
}
