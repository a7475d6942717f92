/**
 * `deploy`: `cdk deploy` of the assembly `synth` wrote (no second synth), with
 * the pinned CLI. Approval prompts for security-relevant changes only when a
 * person is at a terminal; never in CI.
 */
import { relative } from "node:path";
import { assemblyStack } from "./cdk/assembly.ts";
import { cdkCli } from "./cdk/cli.ts";
import { splitContextArguments } from "./cdk/context.ts";
import { infrastructureOutput } from "./project/outputs.ts";
import type { TaskContext } from "./runner/task.ts";

export function atTerminal(env: Record<string, string | undefined> = process.env): boolean {
	const ci = env.CI !== undefined && env.CI !== "" && env.CI !== "false";
	return (
		Boolean(process.stdin.isTTY && process.stdout.isTTY) && !ci && env.GITHUB_ACTIONS !== "true"
	);
}

export default async function deploy({ $, root, passthrough, lock }: TaskContext) {
	const output = infrastructureOutput(root);
	// The --context settings went to synth (forwardsTo), which made the assembly with them.
	const { rest: cdkArguments } = splitContextArguments(passthrough);
	lock(output.dir);
	// The stack synth wrote, not one derived again from the context (which -- --context may have changed).
	const stackName = assemblyStack(root, output.dir);
	const interactive = atTerminal();
	await $({
		interactive,
	})`${process.execPath} ${cdkCli(root)} deploy ${stackName} --app ${relative(root, output.dir)} --require-approval ${interactive ? "broadening" : "never"} --outputs-file ${relative(root, output.stackOutputs(stackName))} --no-notices ${cdkArguments}`;
}
