/**
 * `deploy`: `cdk deploy` of the assembly `synth` wrote (no second synth), with
 * the pinned CLI. Approval prompts for security-relevant changes only when a
 * person is at a terminal; never in CI.
 */
import { relative } from "node:path";
import { assemblyStack } from "./cdk/assembly.ts";
import { cdkCli } from "./cdk/cli.ts";
import { cdkContext, splitContextArguments, stackSettings } from "./cdk/context.ts";
import { infrastructureOutput } from "./project/outputs.ts";
import type { TaskContext } from "./runner/task.ts";

function atTerminal(env: Record<string, string | undefined> = process.env): boolean {
	const ci = env.CI !== undefined && env.CI !== "" && env.CI !== "false";
	return (
		Boolean(process.stdin.isTTY && process.stdout.isTTY) && !ci && env.GITHUB_ACTIONS !== "true"
	);
}

export default async function deploy(context: TaskContext) {
	const { $, root, passthrough, lock, dryRun, log } = context;
	const output = infrastructureOutput(root);
	// The --context settings went to synth (forwardsTo), which made the assembly with them.
	const { rest: cdkArguments, context: overrides } = splitContextArguments(passthrough);
	lock(output.dir);
	// Under --dry-run synth wrote nothing: the stack is the one its settings name, as synth would write it.
	const stackName =
		dryRun && context.ranEarlier("synth")
			? stackSettings(cdkContext(root, overrides)).stackName
			: // The stack synth wrote, not one derived again from the context (which -- --context may have changed).
				assemblyStack(root, output.dir);
	if (dryRun && context.ranEarlier("synth"))
		log("deploys what synth writes (this dry run wrote nothing).");
	const interactive = atTerminal();
	await $({
		interactive,
	})`${process.execPath} ${cdkCli(root)} deploy ${stackName} --app ${relative(root, output.dir)} --require-approval ${interactive ? "broadening" : "never"} --outputs-file ${relative(root, output.stackOutputs(stackName))} --no-notices ${cdkArguments}`;
}
