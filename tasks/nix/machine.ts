/**
 * What the local Nix can build: its own system, the systems it emulates
 * (extra-platforms), its system features (kvm) and its remote builders.
 * Read from `nix show-config --json`, so nix.conf, NIX_CONFIG and settings
 * passed after `--` all count, exactly as they will for the build.
 */
import { existsSync, readFileSync } from "node:fs";

export interface RemoteBuilder {
	uri: string;
	systems: string[];
	features: string[];
}

export interface NixMachine {
	system: string;
	extraPlatforms: string[];
	systemFeatures: string[];
	builders: RemoteBuilder[];
}

type ReadFile = (path: string) => string | undefined;

const readIfPresent: ReadFile = (path) =>
	existsSync(path) ? readFileSync(path, "utf8") : undefined;

const list = (field: string | undefined): string[] =>
	field === undefined || field === "-" || field === "" ? [] : field.split(",");

/**
 * Parses the `builders` setting: machines separated by `;` or newlines, each
 * `uri [systems [ssh-key [max-jobs [speed [supported-features [mandatory-features …]]]]]]`,
 * and `@file` entries that name a machines file.
 */
export function parseBuilders(
	spec: string,
	localSystem: string,
	readFile: ReadFile = readIfPresent,
): RemoteBuilder[] {
	const builders: RemoteBuilder[] = [];
	for (const entry of spec.split(/[;\n]/)) {
		const line = entry.replace(/#.*/, "").trim();
		if (line === "") continue;
		if (line.startsWith("@")) {
			builders.push(...parseBuilders(readFile(line.slice(1).trim()) ?? "", localSystem, readFile));
			continue;
		}
		const [uri = "", systems, , , , supported, mandatory] = line.split(/\s+/);
		builders.push({
			uri,
			systems: systems === undefined || systems === "-" ? [localSystem] : list(systems),
			features: [...list(supported), ...list(mandatory)],
		});
	}
	return builders;
}

interface ConfigEntry {
	value: unknown;
}

function stringsOf(entry: ConfigEntry | undefined): string[] {
	const value = entry?.value;
	if (Array.isArray(value)) return value.map(String);
	if (typeof value === "string") return value.split(/\s+/).filter(Boolean);
	return [];
}

/** Reads the `nix show-config --json` answer. */
export function machineFromConfig(
	config: Record<string, ConfigEntry>,
	readFile: ReadFile = readIfPresent,
): NixMachine {
	const system = String(config.system?.value ?? "");
	const builders = config.builders?.value;
	return {
		system,
		extraPlatforms: stringsOf(config["extra-platforms"]),
		systemFeatures: stringsOf(config["system-features"]),
		builders: typeof builders === "string" ? parseBuilders(builders, system, readFile) : [],
	};
}

const SETTINGS_WITH_VALUE = new Set([
	"--builders",
	"--extra-builders",
	"--extra-platforms",
	"--system-features",
	"--extra-system-features",
]);

/** The settings among `nix build` arguments that change what can be built, to pass to show-config too. */
export function capabilitySettings(args: readonly string[]): string[] {
	const settings: string[] = [];
	for (let i = 0; i < args.length; i++) {
		const arg = args[i] ?? "";
		if (arg === "--option" || arg === "--extra-option") {
			settings.push(...args.slice(i, i + 3));
			i += 2;
		} else if (SETTINGS_WITH_VALUE.has(arg)) {
			settings.push(...args.slice(i, i + 2));
			i += 1;
		}
	}
	return settings;
}

export interface BuildNeeds {
	/** The task, for the command a message suggests. */
	task: string;
	system: string;
	/** The build runs in a virtual machine (nixpkgs' make-disk-image) and needs KVM. */
	kvm: boolean;
}

/**
 * Why this machine cannot build what is needed, as one sentence saying what
 * to do, or undefined when a local or remote builder can.
 */
export function buildRefusal(
	machine: NixMachine,
	needs: BuildNeeds,
	devKvm: boolean = existsSync("/dev/kvm"),
): string | undefined {
	const { system, kvm, task } = needs;
	const native = machine.system === system;
	const emulated = machine.extraPlatforms.includes(system);
	const localKvm = machine.systemFeatures.includes("kvm");
	const remote = machine.builders.some(
		(builder) => builder.systems.includes(system) && (!kvm || builder.features.includes("kvm")),
	);
	if (remote) return undefined;
	const builderExample = `bun task ${task} --system ${system} -- --builders 'ssh://<host> ${system}${kvm ? " - - - kvm" : ""}'`;
	if (!native && !emulated) {
		const emulation = kvm
			? ""
			: ` enable emulation (on NixOS: boot.binfmt.emulatedSystems = [ "${system}" ]; elsewhere register qemu-user-static with binfmt_misc and add extra-platforms = ${system} to nix.conf), or`;
		return `This machine builds ${machine.system} and cannot build ${system}:${emulation} pass a remote builder for ${system}${kvm ? " with KVM" : ""}: ${builderExample}.`;
	}
	if (kvm && !native) {
		return `The ${task} image is built inside a KVM virtual machine, which emulating ${system} on ${machine.system} cannot provide: pass a remote builder for ${system} that has KVM: ${builderExample}.`;
	}
	if (kvm && !localKvm && devKvm) {
		return `The ${task} image is built inside a virtual machine and needs KVM: /dev/kvm exists, but nix does not list "kvm" in its system-features; add it (in nix.conf: \`system-features = kvm nixos-test benchmark big-parallel\`, on NixOS \`nix.settings.system-features\`), or pass it for one run: bun task ${task} -- --option system-features kvm.`;
	}
	if (kvm && !localKvm) {
		return `The ${task} image is built inside a virtual machine and needs KVM, but nix here has no "kvm" system feature (/dev/kvm is missing): run it on a machine with KVM, or pass a remote builder with KVM: ${builderExample}.`;
	}
	return undefined;
}
