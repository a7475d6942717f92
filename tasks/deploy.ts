/**
 * `deploy`: `cdk deploy` of the assembly `synth` wrote (no second synth), with
 * the pinned CLI. Approval prompts for security-relevant changes only when a
 * person is at a terminal; never in CI.
 */
import { relative } from "node:path";
import type { DeployOptions } from "./catalog.ts";
import { cdkCli, cdkContext } from "./cdk.ts";
import { infrastructureOutput } from "./outputs.ts";
import type { TaskContext } from "./runner/task.ts";

export function atTerminal(env: Record<string, string | undefined> = process.env): boolean {
	const ci = env.CI !== undefined && env.CI !== "" && env.CI !== "false";
	return (
		Boolean(process.stdin.isTTY && process.stdout.isTTY) && !ci && env.GITHUB_ACTIONS !== "true"
	);
}

export default async function deploy({ $, root, passthrough }: TaskContext<DeployOptions>) {
	const { readSettings } = await import("../infra/settings.ts");
	const context = cdkContext(root);
	const { stackName } = readSettings((key) => context[key]);
	const output = infrastructureOutput(root, stackName);
	const interactive = atTerminal();
	await $({
		interactive,
	})`${process.execPath} ${cdkCli(root)} deploy ${stackName} --app ${relative(root, output.dir)} --require-approval ${interactive ? "broadening" : "never"} --outputs-file ${relative(root, output.stackOutputs)} --no-notices ${passthrough}`;
}
