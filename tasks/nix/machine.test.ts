import { describe, expect, test } from "bun:test";
import {
	buildRefusal,
	capabilitySettings,
	machineFromConfig,
	type NixMachine,
	parseBuilders,
} from "./machine.ts";

const x86: NixMachine = {
	system: "x86_64-linux",
	extraPlatforms: [],
	systemFeatures: ["kvm"],
	builders: [],
};

describe("parseBuilders", () => {
	test("reads machines separated by ; and newlines, with defaults for missing fields", () => {
		expect(
			parseBuilders(
				"ssh://a aarch64-linux,x86_64-linux - 8 1 kvm,big-parallel; ssh://b\n# comment\n",
				"x86_64-linux",
			),
		).toEqual([
			{
				uri: "ssh://a",
				systems: ["aarch64-linux", "x86_64-linux"],
				features: ["kvm", "big-parallel"],
			},
			{ uri: "ssh://b", systems: ["x86_64-linux"], features: [] },
		]);
	});
	test("follows @file entries, and a missing file means no builders", () => {
		const files: Record<string, string> = {
			"/etc/nix/machines": "ssh-ng://c aarch64-linux - 4 1 - kvm",
		};
		expect(parseBuilders("@/etc/nix/machines", "x86_64-linux", (path) => files[path])).toEqual([
			{ uri: "ssh-ng://c", systems: ["aarch64-linux"], features: ["kvm"] },
		]);
		expect(parseBuilders("@/nowhere", "x86_64-linux", () => undefined)).toEqual([]);
	});
});

describe("machineFromConfig", () => {
	test("reads nix show-config --json", () => {
		const machine = machineFromConfig(
			{
				system: { value: "x86_64-linux" },
				"extra-platforms": { value: ["i686-linux", "aarch64-linux"] },
				"system-features": { value: ["benchmark", "kvm"] },
				builders: { value: "ssh://a aarch64-linux" },
			},
			() => undefined,
		);
		expect(machine).toEqual({
			system: "x86_64-linux",
			extraPlatforms: ["i686-linux", "aarch64-linux"],
			systemFeatures: ["benchmark", "kvm"],
			builders: [{ uri: "ssh://a", systems: ["aarch64-linux"], features: [] }],
		});
	});
});

describe("capabilitySettings", () => {
	test("keeps only the nix build arguments that change what can be built", () => {
		expect(
			capabilitySettings([
				"-L",
				"--builders",
				"ssh://a aarch64-linux",
				"--max-jobs",
				"2",
				"--option",
				"extra-platforms",
				"aarch64-linux",
			]),
		).toEqual([
			"--builders",
			"ssh://a aarch64-linux",
			"--option",
			"extra-platforms",
			"aarch64-linux",
		]);
	});
});

describe("buildRefusal", () => {
	const needs = (system: string, kvm: boolean) => ({ task: "images", system, kvm });
	test("lets a machine build its own system, and the VM only with KVM", () => {
		expect(buildRefusal(x86, needs("x86_64-linux", false))).toBeUndefined();
		expect(buildRefusal(x86, needs("x86_64-linux", true))).toBeUndefined();
		expect(
			buildRefusal({ ...x86, systemFeatures: [] }, needs("x86_64-linux", true), false),
		).toContain('needs KVM, but nix here has no "kvm" system feature');
	});
	test("with /dev/kvm but no kvm system feature, says to add kvm to system-features", () => {
		const refusal = buildRefusal({ ...x86, systemFeatures: [] }, needs("x86_64-linux", true), true);
		expect(refusal).toContain(
			'/dev/kvm exists, but nix does not list "kvm" in its system-features',
		);
		expect(refusal).toContain("system-features = kvm");
		expect(refusal).toContain("-- --option system-features kvm");
	});
	test("lets emulation build the container but not the VM", () => {
		const emulating = { ...x86, extraPlatforms: ["aarch64-linux"] };
		expect(buildRefusal(emulating, needs("aarch64-linux", false))).toBeUndefined();
		expect(buildRefusal(emulating, needs("aarch64-linux", true))).toContain(
			"which emulating aarch64-linux on x86_64-linux cannot provide",
		);
	});
	test("accepts a remote builder of the system, with kvm when the VM needs it", () => {
		const remote = {
			...x86,
			builders: [{ uri: "ssh://a", systems: ["aarch64-linux"], features: [] }],
		};
		expect(buildRefusal(remote, needs("aarch64-linux", false))).toBeUndefined();
		expect(buildRefusal(remote, needs("aarch64-linux", true))).toContain(
			"pass a remote builder for aarch64-linux with KVM",
		);
	});
	test("names emulation and remote builders when neither is there", () => {
		const message = buildRefusal(x86, needs("aarch64-linux", false));
		expect(message).toBe(
			"This machine builds x86_64-linux and cannot build aarch64-linux: enable emulation (on NixOS: boot.binfmt.emulatedSystems = [ \"aarch64-linux\" ]; elsewhere register qemu-user-static with binfmt_misc and add extra-platforms = aarch64-linux to nix.conf), or pass a remote builder for aarch64-linux: bun task images --system aarch64-linux -- --builders 'ssh://<host> aarch64-linux'.",
		);
	});
});
