/**
 * The body of `oci-container` and `virtual-machine`: check that this machine
 * can build the image, `nix build` it into its out-link, then point the stable
 * names (nix.tar.gz, nixos.img, image-info.json) into it.
 */
import { existsSync, mkdirSync, readlinkSync } from "node:fs";
import { relative } from "node:path";
import { linkAtomically } from "../project/files.ts";
import type { BuildOptions } from "../project/options.ts";
import { type ImageKind, imageOutput } from "../project/outputs.ts";
import { hostSystem } from "../project/systems.ts";
import { CommandFailed, TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import { NIX_FEATURES, requireNixTool } from "./cli.ts";
import { buildRefusal, capabilitySettings, machineFromConfig } from "./machine.ts";

/** Images whose build runs in a virtual machine (nixpkgs' make-disk-image) and needs KVM. */
const NEEDS_KVM: Record<ImageKind, boolean> = { "oci-container": false, "virtual-machine": true };

const LOG_TAIL_LINES = 15;

/** `<flake>#packages.<system>.<kind>`: the attribute is spelled out rather than chosen by `--system`. */
export function installable(flake: string, system: string, kind: ImageKind): string {
	return `${flake}#packages.${system}.${kind}`;
}

function nativeSystem(): string | undefined {
	try {
		return hostSystem();
	} catch {
		return undefined;
	}
}

/** Refuses, before building, what this machine cannot build; asks nix only when the answer is not obvious. */
async function checkMachine(context: TaskContext<BuildOptions>, kind: ImageKind): Promise<void> {
	const { $, options, passthrough, task } = context;
	const settings = capabilitySettings(passthrough);
	if (!NEEDS_KVM[kind] && options.system === nativeSystem() && settings.length === 0) return;
	const config = await $({
		quiet: true,
		probe: true,
	})`nix ${NIX_FEATURES} show-config --json ${settings}`;
	const refusal = buildRefusal(machineFromConfig(JSON.parse(config.stdout)), {
		task,
		system: options.system,
		kvm: NEEDS_KVM[kind],
	});
	if (refusal !== undefined) throw new TaskError(refusal);
}

function storePathOf(link: string): string | undefined {
	try {
		return readlinkSync(link);
	} catch {
		return undefined;
	}
}

function failedBuild(error: CommandFailed): TaskError {
	const tail = error.stderrTail.slice(-LOG_TAIL_LINES).map((line) => `  ${line}`);
	return new TaskError(
		[
			`nix build failed with exit code ${error.exitCode}; the previous image, if any, is still in place. The end of its log:`,
			...tail,
			"For the whole log run `nix log` on the derivation named above; add `-- --keep-failed` to keep the build directory.",
		].join("\n"),
		error.exitCode,
	);
}

export async function buildImage(
	context: TaskContext<BuildOptions>,
	kind: ImageKind,
): Promise<void> {
	const { $, options, passthrough, root, dryRun, log } = context;
	requireNixTool("nix");
	await checkMachine(context, kind);

	const output = imageOutput(root, kind, options.system);
	const outLink = relative(root, output.result);
	const previous = storePathOf(output.result);
	if (!dryRun) mkdirSync(output.dir, { recursive: true });
	try {
		// nix replaces the out-link only when the build succeeds, so a failure keeps the last image.
		await $`nix ${NIX_FEATURES} build ${installable(options.flake, options.system, kind)} --out-link ${outLink} --print-build-logs ${passthrough}`;
	} catch (error) {
		throw error instanceof CommandFailed ? failedBuild(error) : error;
	}
	if (dryRun) return;

	const contents = (files: typeof output.files) =>
		files.map((file) => file.inPackage).join(" and ");
	const missing = output.files.filter((file) => !existsSync(`${output.dir}/${file.target}`));
	if (missing.length > 0) {
		// Put the last good image back before saying so (the store path is still there, just unrooted).
		if (previous !== undefined)
			await $`nix ${NIX_FEATURES} build ${previous} --out-link ${outLink}`;
		throw new TaskError(
			`The build succeeded but made no ${contents(missing)}: packages.${options.system}.${kind} of ${options.flake} must contain ${contents(output.files)}${previous === undefined ? "" : "; the previous image is back in place"}.`,
		);
	}
	for (const file of output.files) {
		linkAtomically(file.target, file.path);
		log(`${relative(root, file.path)} → ${file.target}`);
	}
}
