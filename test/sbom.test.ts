/**
 * SBOMs end to end: Debian's Nix 2.8 building the fixture flake (whose images
 * name small store objects with references between them as their SBOM roots),
 * the image builds writing each SBOM, `bun task sbom` making it again; and the
 * real image expressions (nix/…), evaluated with stand-ins for nixpkgs, naming
 * the roots the way the fixture does.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { join } from "node:path";
import * as CDX from "@cyclonedx/cyclonedx-library";
import { sha256Hex } from "../tasks/sbom/hashes.ts";
import { parseDrvName } from "../tasks/sbom/names.ts";
import { SBOM_NAMESPACE, uuidV5 } from "../tasks/sbom/uuid.ts";
import {
	bunTask,
	fixtureFlake,
	HOST,
	KVM_NIX_CONFIG,
	projectCopy,
	REPO,
	requireTool,
} from "./helpers.ts";

requireTool("nix", "apt-get install nix-bin");

const WITH_KVM = KVM_NIX_CONFIG;

const project = projectCopy();
const flakeCopy = fixtureFlake();
const flake = flakeCopy.dir;
afterAll(() => {
	project.dispose();
	flakeCopy.dispose();
});

/** `bun task <args>`, with --flake for the builds. */
function task(args: string[]) {
	const build = ["oci-container", "virtual-machine", "images"].includes(args[0] ?? "");
	return bunTask(build ? [...args, "--flake", flake] : args, {
		cwd: project.dir,
		env: { NIX_CONFIG: WITH_KVM },
	});
}

const out = (...parts: string[]) => join(project.dir, "outputs/main", ...parts);
const sbomFile = (kind: string) => out(kind, HOST, "sbom.cdx.json");
const read = (kind: string) => readFileSync(sbomFile(kind), "utf8");

interface Component {
	name: string;
	version?: string;
	"bom-ref": string;
	purl: string;
	hashes: { alg: string; content: string }[];
	licenses?: { license: { id?: string; name?: string } }[];
	properties: { name: string; value: string }[];
}

/** The SBOM as names: each component's `name version` and licenses, and the graph between them. */
function byName(json: string) {
	const bom = JSON.parse(json);
	const names = new Map<string, string>([[bom.metadata.component["bom-ref"], "(image)"]]);
	for (const c of bom.components as Component[]) {
		names.set(c["bom-ref"], c.version === undefined ? c.name : `${c.name} ${c.version}`);
	}
	const licenses = Object.fromEntries(
		(bom.components as Component[]).map((c) => [
			names.get(c["bom-ref"]),
			(c.licenses ?? []).map((l) => l.license.id ?? l.license.name),
		]),
	);
	const graph = Object.fromEntries(
		(bom.dependencies as { ref: string; dependsOn?: string[] }[]).map((d) => [
			names.get(d.ref),
			(d.dependsOn ?? []).map((ref) => names.get(ref)).sort(),
		]),
	);
	return { names: [...names.values()].slice(1).sort(), licenses, graph };
}

describe("SBOMs of the fixture's images", () => {
	test("with no image built, sbom fails in one sentence saying to build them first", async () => {
		const run = await task(["sbom"]);
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			`✗ Task "sbom" failed: No image of ${HOST} is built (outputs/main/oci-container/${HOST}/result and outputs/main/virtual-machine/${HOST}/result are missing), so there is nothing to describe; build them first: bun task images --system ${HOST}.\n`,
		);
	});

	test("images writes each image's SBOM as part of its build", async () => {
		flakeCopy.build("good");
		const run = await task(["images"]);
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toMatch(
			new RegExp(
				`oci-container: outputs/main/oci-container/${HOST}/sbom\\.cdx\\.json: 5 components, subject nix 2\\.31\\.2 sha256:[0-9a-f]{64}\\.`,
			),
		);
		expect(run.stderr).toMatch(
			new RegExp(
				`virtual-machine: outputs/main/virtual-machine/${HOST}/sbom\\.cdx\\.json: 6 components, subject nixos 26\\.05\\.20260616\\.567a49d sha256:[0-9a-f]{64}\\.`,
			),
		);
		// Read from the store without evaluating the flake again.
		expect(run.stderr).toContain(
			"$ nix --extra-experimental-features 'nix-command flakes' path-info --json --recursive --offline /nix/store/",
		);
	});

	test("the container's SBOM lists exactly its contents' closure, by Nix's names, with the references as the graph", () => {
		expect(byName(read("oci-container"))).toEqual({
			names: [
				"bash-interactive 5.2p37",
				"glibc 2.40-66-bin",
				"nix 2.31.2",
				"nix-image-tools",
				"nss-cacert 3.107",
			],
			licenses: {
				"bash-interactive 5.2p37": ["GPL-3.0-or-later"],
				"glibc 2.40-66-bin": ["GPL-2.0-or-later", "LGPL-2.1-or-later"],
				"nix 2.31.2": ["LGPL-2.1-or-later"],
				"nix-image-tools": [],
				"nss-cacert 3.107": ["MPL-2.0"],
			},
			// Every object refers to itself too; that is no dependency.
			graph: {
				"(image)": ["nix-image-tools", "nss-cacert 3.107"],
				"nix-image-tools": ["bash-interactive 5.2p37", "nix 2.31.2"],
				"nix 2.31.2": ["bash-interactive 5.2p37", "glibc 2.40-66-bin"],
				"bash-interactive 5.2p37": ["glibc 2.40-66-bin"],
				"glibc 2.40-66-bin": [],
				"nss-cacert 3.107": [],
			},
		});
	});

	test("the disk image's SBOM lists exactly the system's closure", () => {
		expect(byName(read("virtual-machine"))).toEqual({
			names: [
				"etc",
				"glibc 2.40-66-bin",
				"linux 6.12.1",
				"nixos-system-nixos 26.05.20260616.567a49d",
				"openssh 10.0p2",
				"systemd 257.5",
			],
			licenses: {
				etc: [],
				"glibc 2.40-66-bin": [],
				"linux 6.12.1": ["GPL-2.0-only"],
				"nixos-system-nixos 26.05.20260616.567a49d": [],
				"openssh 10.0p2": ["BSD-2-Clause"],
				"systemd 257.5": ["LGPL-2.1-or-later"],
			},
			graph: {
				"(image)": ["nixos-system-nixos 26.05.20260616.567a49d"],
				"nixos-system-nixos 26.05.20260616.567a49d": ["etc", "linux 6.12.1", "systemd 257.5"],
				etc: ["openssh 10.0p2", "systemd 257.5"],
				"openssh 10.0p2": ["glibc 2.40-66-bin"],
				"systemd 257.5": ["glibc 2.40-66-bin"],
				"linux 6.12.1": [],
				"glibc 2.40-66-bin": [],
			},
		});
	});

	test("each component is its store path: bom-ref, property, purl, and the NAR hash the store records", () => {
		for (const kind of ["oci-container", "virtual-machine"]) {
			for (const c of JSON.parse(read(kind)).components as Component[]) {
				const path = c["bom-ref"];
				expect(c.properties).toEqual([{ name: "nix:store_path", value: path }]);
				expect(c.purl).toBe(`pkg:nix/${c.name}${c.version === undefined ? "" : `@${c.version}`}`);
				// Nix 2.8 prints it as sha256:<nix base32>.
				const query = Bun.spawnSync(["nix-store", "--query", "--hash", path]);
				const hash = sha256Hex(query.stdout.toString().trim());
				expect(hash).toMatch(/^[0-9a-f]{64}$/);
				expect(c.hashes).toEqual([{ alg: "SHA-256", content: hash as string }]);
			}
		}
	});

	test("the container's subject is the image by its OCI manifest digest", () => {
		const layout = out("oci-container", HOST, "oci-layout");
		const digest: string = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")).manifests[0]
			.digest;
		const hex = digest.replace("sha256:", "");
		const bom = JSON.parse(read("oci-container"));
		expect(bom.metadata.component).toEqual({
			type: "container",
			name: "nix",
			version: "2.31.2",
			"bom-ref": `pkg:oci/nix@${digest}`,
			hashes: [{ alg: "SHA-256", content: hex }],
			purl: `pkg:oci/nix@${digest}`,
			properties: [
				{ name: "nix:store_path", value: realpathSync(out("oci-container", HOST, "result")) },
			],
		});
		expect(bom.serialNumber).toBe(`urn:uuid:${uuidV5(digest, SBOM_NAMESPACE)}`);
		expect(bom.metadata.timestamp).toBeUndefined();
	});

	test("the disk image's subject is NixOS by the disk image's SHA-256", () => {
		const disk = readFileSync(out("virtual-machine", HOST, "nixos.img"));
		const sha256 = new Bun.CryptoHasher("sha256").update(disk).digest("hex");
		const bom = JSON.parse(read("virtual-machine"));
		expect(bom.metadata.component).toEqual({
			type: "operating-system",
			name: "nixos",
			version: "26.05.20260616.567a49d",
			"bom-ref": `nixos@sha256:${sha256}`,
			hashes: [{ alg: "SHA-256", content: sha256 }],
			properties: [
				{ name: "nix:store_path", value: realpathSync(out("virtual-machine", HOST, "result")) },
			],
		});
		expect(bom.serialNumber).toBe(`urn:uuid:${uuidV5(`sha256:${sha256}`, SBOM_NAMESPACE)}`);
	});

	test("both are valid CycloneDX 1.6 by the library's strict validator", async () => {
		const validator = new CDX.Validation.JsonStrictValidator(CDX.Spec.Version.v1dot6);
		expect(await validator.validate(read("oci-container"))).toBeNull();
		expect(await validator.validate(read("virtual-machine"))).toBeNull();
	});

	test("sbom makes the same bytes again, run after run", async () => {
		const built = [read("oci-container"), read("virtual-machine")];
		for (let i = 0; i < 2; i++) {
			const run = await task(["sbom"]);
			expect(run.exitCode).toBe(0);
			expect([read("oci-container"), read("virtual-machine")]).toEqual(built);
		}
	});

	test("--dry-run prints what it would write and writes nothing", async () => {
		rmSync(sbomFile("oci-container"));
		const run = await task(["sbom", "--dry-run"]);
		expect(run.exitCode).toBe(0);
		expect(run.stderr).toContain(
			`sbom: would write outputs/main/oci-container/${HOST}/sbom.cdx.json (5 components).`,
		);
		expect(existsSync(sbomFile("oci-container"))).toBe(false);
	});

	test("with one image built, sbom writes its SBOM and says the other is not built", async () => {
		expect((await task(["clean", "--kind", "virtual-machine"])).exitCode).toBe(0);
		const run = await task(["sbom"]);
		expect(run.exitCode).toBe(0);
		expect(existsSync(sbomFile("oci-container"))).toBe(true);
		expect(run.stderr).toContain(
			`sbom: outputs/main/virtual-machine/${HOST} holds no built image, so it has no SBOM; build it first: bun task virtual-machine --system ${HOST}.\n`,
		);
	});

	test("an image that names no SBOM roots fails its build's SBOM in one sentence, and the previous SBOM goes", async () => {
		expect(existsSync(sbomFile("oci-container"))).toBe(true);
		flakeCopy.build("unnamed");
		const run = await task(["oci-container"]);
		expect(run.exitCode).toBe(1);
		const store = realpathSync(out("oci-container", HOST, "result"));
		const sentence = `${store}/nix-support/sbom-roots is missing: the image was built by an expression that names no SBOM roots; rebuild it with bun task oci-container --system ${HOST}.`;
		expect(run.stderr).toContain(
			`✗ Task "oci-container" failed: The image was built, but not its SBOM (the previous one, which described the previous image, was removed): ${sentence}\n`,
		);
		expect(existsSync(sbomFile("oci-container"))).toBe(false);
		const again = await task(["sbom"]);
		expect(again.exitCode).toBe(1);
		expect(again.stderr).toContain(`✗ Task "sbom" failed: ${sentence}\n`);
	});
});

describe("parseDrvName", () => {
	test("splits names as Nix's own builtins.parseDrvName does", () => {
		const names = [
			"hello-2.12",
			"nix-2.31.2",
			"perl-5.38.2-env",
			"glibc-2.40-66-bin",
			"python3.12-requests-2.32.3",
			"source",
			"foo-bar",
			"foo--bar",
			"foo-_bar",
			"hello-",
			"unit-script-boot-marker-start",
			"nixos-system-nixos-26.05.20260616.567a49d",
		];
		const nix = Bun.spawnSync([
			"nix-instantiate",
			"--eval",
			"--strict",
			"--json",
			"-E",
			`map builtins.parseDrvName (builtins.fromJSON ${JSON.stringify(JSON.stringify(names))})`,
		]);
		expect(nix.stderr.toString()).toBe("");
		expect(JSON.parse(nix.stdout.toString())).toEqual(names.map(parseDrvName));
	});
});

/** Evaluates `expression` in the repository with nix-instantiate, strictly, as JSON. */
function evaluate(expression: string): unknown {
	const run = Bun.spawnSync(["nix-instantiate", "--eval", "--strict", "--json", "-E", expression], {
		cwd: REPO,
		stderr: "pipe",
	});
	if (run.exitCode !== 0) throw new Error(run.stderr.toString());
	return JSON.parse(run.stdout.toString());
}

// Stand-ins for nixpkgs: derivations that are never built, with licenses in each of meta's shapes.
const STAND_INS = `
	drv = name: meta: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; } // { inherit meta; };
	mit = drv "mit-1.0" { license = { spdxId = "MIT"; }; };
	two = drv "two-2.0" { license = [ { spdxId = "GPL-2.0-only"; } { spdxId = "MIT"; } ]; };
	unfree = drv "unfree-3.0" { license = { free = false; }; };
	plain = drv "plain" { };
	lib = {
		escapeShellArg = s: "'" + s + "'";
		makeBinPath = ps: builtins.concatStringsSep ":" (map (p: "\${p}/bin") ps);
		mapAttrsToList = f: attrs: map (n: f n attrs.\${n}) (builtins.attrNames attrs);
	};
`;

describe("nix/sbom.nix", () => {
	test("lists the roots one a line and the licenses with SPDX ids by store path", () => {
		const result = evaluate(`
			let ${STAND_INS}
				sbom = import ./nix/sbom.nix { roots = [ mit plain ]; licensed = [ plain unfree two mit two ]; };
			in {
				inherit (sbom) roots;
				rawLicenses = sbom.licenses;
				licenses = builtins.fromJSON (builtins.unsafeDiscardStringContext sbom.licenses);
				paths = map toString [ mit plain two ];
			}
		`) as {
			roots: string;
			rawLicenses: string;
			licenses: Record<string, string[]>;
			paths: string[];
		};
		const [mit, plain, two] = result.paths;
		expect(result.roots).toBe(`${mit}\n${plain}\n`);
		// Once each, though two is listed twice.
		expect(result.rawLicenses.split(two as string)).toHaveLength(2);
		expect(result.licenses).toEqual({
			[mit as string]: ["MIT"],
			[two as string]: ["GPL-2.0-only", "MIT"],
		});
	});
});

describe("the real image expressions name their SBOM roots", () => {
	test("the container: the same contents list it gives buildLayeredImage, with the tools' licenses", () => {
		const result = evaluate(`
			let ${STAND_INS}
				package = import ./nix/oci-container.nix {
					inherit lib;
					dockerTools = {
						buildLayeredImage = args: drv "nix.tar.gz" { } // { inherit args; imageName = "nix"; imageTag = "2.31.2"; };
						caCertificates = drv "ca-certificates" { };
						usrBinEnv = drv "usr-bin-env" { };
					};
					buildEnv = args: drv args.name { };
					runCommand = name: env: script: { inherit name env script; };
					nix = mit // { version = "2.31.2"; };
					bashInteractive = two;
					coreutils = unfree;
					gitMinimal = plain; gnutar = plain; gzip = plain; xz = plain; gnugrep = plain;
					gnused = plain; findutils = plain; openssh = plain; iana-etc = plain; jq = plain;
				};
			in {
				roots = package.env.sbomRoots;
				contents = map toString package.env.passthru.image.args.contents;
				licenses = builtins.fromJSON (builtins.unsafeDiscardStringContext package.env.sbomLicenses);
				inherit (package.env) passAsFile;
				inherit (package) script;
				paths = map toString [ mit two ];
			}
		`) as {
			roots: string;
			contents: string[];
			licenses: Record<string, string[]>;
			passAsFile: string[];
			script: string;
			paths: string[];
		};
		expect(result.contents).toHaveLength(3);
		expect(result.roots).toBe(result.contents.map((path) => `${path}\n`).join(""));
		const [mit, two] = result.paths;
		expect(result.licenses).toEqual({
			[mit as string]: ["MIT"],
			[two as string]: ["GPL-2.0-only", "MIT"],
		});
		expect(result.passAsFile).toEqual(["sbomRoots", "sbomLicenses"]);
		expect(result.script).toContain("cp $sbomRootsPath $out/nix-support/sbom-roots\n");
		expect(result.script).toContain("cp $sbomLicensesPath $out/nix-support/sbom-licenses.json\n");
	});

	test("the disk image: the system's toplevel, with the licenses of its packages, kernel and systemd", () => {
		const result = evaluate(`
			let ${STAND_INS}
				toplevel = drv "nixos-system-nixos-26.05" { };
				module = import ./nix/virtual-machine/image.nix {
					inherit lib;
					config = {
						system.build.toplevel = toplevel;
						system.nixos.label = "26.05";
						environment.systemPackages = [ plain two ];
						boot.kernelPackages.kernel = mit;
						systemd.package = unfree;
					};
					pkgs = {
						coreutils = plain; jq = plain; runtimeShell = "/bin/sh";
						stdenv.hostPlatform.system = "x86_64-linux";
						writeText = name: text: "<" + name + ":" + text + ">";
					};
					# Where make-disk-image is read from, as nixpkgs lays it out (../lib).
					modulesPath = "${join(REPO, "test/fixtures/nixos-stub/modules")}";
				};
			in {
				inherit (module.system.build.image) postVM;
				paths = map toString [ toplevel two mit ];
			}
		`) as { postVM: string; paths: string[] };
		const [toplevel, two, mit] = result.paths;
		const licenses = JSON.stringify({
			[mit as string]: ["MIT"],
			[two as string]: ["GPL-2.0-only", "MIT"],
		});
		const sorted = JSON.stringify(
			Object.fromEntries(Object.entries(JSON.parse(licenses)).sort(([a], [b]) => (a < b ? -1 : 1))),
		);
		expect(result.postVM).toContain(`cp <sbom-roots:${toplevel}\n> $out/nix-support/sbom-roots\n`);
		expect(result.postVM).toContain(
			`cp <sbom-licenses.json:${sorted}\n> $out/nix-support/sbom-licenses.json\n`,
		);
	});
});
