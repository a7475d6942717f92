/**
 * The body of `oci-container` and `virtual-machine`: check that this machine
 * can build the image, `nix build` it into its out-link, then point the stable
 * names (nix.tar.gz, nixos.img, image-info.json) into it.
 */
import { existsSync, lstatSync, mkdirSync, rmdirSync } from "node:fs";
import { dirname, relative } from "node:path";
import { linkAtomically } from "../project/files.ts";
import type { BuildOptions } from "../project/options.ts";
import { type ImageKind, imageOutput } from "../project/outputs.ts";
import { hostSystem } from "../project/systems.ts";
import { CommandFailed, TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import { NIX_FEATURES, requireNixTool } from "./cli.ts";
import { buildRefusal, capabilitySettings, machineFromConfig } from "./machine.ts";
import { storePathOf } from "./store.ts";

/** Images whose build runs in a virtual machine (nixpkgs' make-disk-image) and needs KVM. */
const NEEDS_KVM: Record<ImageKind, boolean> = { "oci-container": false, "virtual-machine": true };

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

/** When `path` was last replaced, or undefined when it does not exist. */
function changedAt(path: string): number | undefined {
	try {
		return lstatSync(path).mtimeMs;
	} catch {
		return undefined;
	}
}

/** Refuses, before a build that may take an hour, a file or directory where a link belongs. */
function requireLinkOrNothing(paths: readonly string[], show: (path: string) => string): void {
	for (const path of paths) {
		let stat: ReturnType<typeof lstatSync>;
		try {
			stat = lstatSync(path);
		} catch {
			continue;
		}
		if (!stat.isSymbolicLink()) {
			throw new TaskError(
				`${show(path)} is a ${stat.isDirectory() ? "directory" : "file"} where the task keeps a link into the Nix store; move it away and run the task again.`,
			);
		}
	}
}

/**
 * Creates `dir` and returns a function that removes what was created, if it
 * is still empty: a failed first build leaves no empty directories behind.
 */
function makeDirectory(dir: string, stop: string): () => void {
	const created: string[] = [];
	for (let path = dir; path !== stop && !existsSync(path); path = dirname(path)) created.push(path);
	mkdirSync(dir, { recursive: true });
	return () => {
		for (const path of created) {
			try {
				rmdirSync(path);
			} catch {
				return;
			}
		}
	};
}

/** A failed nix build in one sentence: which builder failed, or nix's own error (its log is already above). */
function failedBuild(error: CommandFailed): TaskError {
	const keep = "The previous image, if any, is still in place.";
	const builder = error.stderrTail
		.map((line) => line.match(/builder for '(\/nix\/store\/[^']+\.drv)' failed/)?.[1])
		.find((drv) => drv !== undefined);
	if (builder !== undefined) {
		return new TaskError(
			`nix build failed with exit code ${error.exitCode}: the builder of ${builder} failed (its log is above; \`nix log ${builder}\` shows it again, and \`-- --keep-failed\` keeps its build directory). ${keep}`,
			error.exitCode,
		);
	}
	const nixError = error.stderrTail.findLast((line) => line.startsWith("error:"));
	const cause = nixError === undefined ? "" : `: ${nixError.replace(/^error:\s*/, "")}`;
	return new TaskError(
		`nix build failed with exit code ${error.exitCode} before any builder ran${cause}. ${keep}`,
		error.exitCode,
	);
}

export async function buildImage(
	context: TaskContext<BuildOptions>,
	kind: ImageKind,
): Promise<void> {
	const { $, options, passthrough, root, dryRun, log, lock } = context;
	const show = (path: string) => relative(root, path);
	requireNixTool("nix");
	await checkMachine(context, kind);

	const output = imageOutput(root, kind, options.system);
	const outLink = show(output.result);
	lock(output.dir);
	requireLinkOrNothing([output.result, ...output.files.map((file) => file.path)], show);
	const previous = storePathOf(output.result);
	const linkedBefore = changedAt(output.result);
	const removeCreated = dryRun ? () => {} : makeDirectory(output.dir, root);
	try {
		// nix replaces the out-link only when the build succeeds, so a failure keeps the last image.
		await $`nix ${NIX_FEATURES} build ${installable(options.flake, options.system, kind)} --out-link ${outLink} --print-build-logs ${passthrough}`;
	} catch (error) {
		removeCreated();
		throw error instanceof CommandFailed ? failedBuild(error) : error;
	}
	if (dryRun) return;
	const linkedAfter = changedAt(output.result);
	if (linkedAfter === undefined || linkedAfter === linkedBefore) {
		removeCreated();
		throw new TaskError(
			`nix build succeeded but did not write ${outLink}, so no new image was built; check the arguments after -- (the previous image, if any, is unchanged).`,
		);
	}

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
		log(`${show(file.path)} → ${file.target}`);
	}
}
