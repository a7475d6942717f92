/**
 * The preflight of every task that calls AWS: fails early, in one sentence,
 * when no AWS credentials can be found, before anything of the invocation
 * runs. Only whether they resolve is checked: nothing about them is printed.
 */
import { TaskError } from "../runner/errors.ts";

const TIMEOUT_MS = 10_000;

/** Overrides that keep AWS credentials out of a child's environment (for tools that need none). */
export const WITHOUT_AWS_CREDENTIALS: Record<string, undefined> = {
	AWS_ACCESS_KEY_ID: undefined,
	AWS_SECRET_ACCESS_KEY: undefined,
	AWS_SESSION_TOKEN: undefined,
	AWS_SECURITY_TOKEN: undefined,
	AWS_CONTAINER_AUTHORIZATION_TOKEN: undefined,
};

const NO_CREDENTIALS =
	"No AWS credentials were found: sign in (`aws sso login --profile <name>` and set AWS_PROFILE, or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), or in GitHub Actions assume the stack's role for the task first with aws-actions/configure-aws-credentials (DeployRoleArn for deploy, PublishRoleArn for publish, ReleaseRoleArn for release and prune, VerifyRoleArn for verify).";

export default async function requireCredentials(): Promise<void> {
	const { fromNodeProviderChain } = await import("@aws-sdk/credential-providers");
	let timer: ReturnType<typeof setTimeout> | undefined;
	const timeout = new Promise<"timeout">((resolve) => {
		timer = setTimeout(() => resolve("timeout"), TIMEOUT_MS);
	});
	try {
		const credentials = await Promise.race([fromNodeProviderChain()(), timeout]);
		if (credentials === "timeout" || !credentials.accessKeyId) throw new TaskError(NO_CREDENTIALS);
	} catch (error) {
		if (error instanceof TaskError) throw error;
		throw new TaskError(NO_CREDENTIALS);
	} finally {
		clearTimeout(timer);
	}
}
