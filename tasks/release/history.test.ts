import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import {
	type History,
	previousRelease,
	readHistory,
	renderFeed,
	withRelease,
	withRollback,
} from "./history.ts";
import type { ReleaseManifest } from "./manifest.ts";

const site = mkdtempSync(join(tmpdir(), "nix-images-history-"));
afterAll(() => rmSync(site, { recursive: true, force: true }));

function release(id: string, day: number): ReleaseManifest {
	return {
		version: `26.05.20260616.567a49d-${id}`,
		releaseId: id,
		releasedAt: `2026-12-0${day}T00:00:00.000Z`,
		stack: "Production",
		publicAmis: true,
		amis: {
			"x86_64-linux": {
				buildId: "1".repeat(16),
				label: "26.05.20260616.567a49d",
				sourceImage: { region: "us-east-1", imageId: "ami-00000000000000001", name: "nixos" },
				imageBuilderImage: "",
				ssmParameter: "/nix-images/Production/nixos/x86_64-linux/latest",
				smokeTest: "passed",
				regions: { "us-east-1": "ami-00000000000000002" },
			},
		},
	};
}

const A = release("aaaaaaaaaaaa", 1);
const B = release("bbbbbbbbbbbb", 2);
const C = release("cccccccccccc", 3);
const empty: History = { stack: "Production", releases: [] };

describe("the history", () => {
	test("each release becomes the current one, newest first; a re-run of one changes nothing", () => {
		const history = withRelease(withRelease(withRelease(empty, A), B), C);
		expect(history.releases.map((entry) => [entry.releaseId, entry.current])).toEqual([
			["cccccccccccc", true],
			["bbbbbbbbbbbb", false],
			["aaaaaaaaaaaa", false],
		]);
		expect(withRelease(history, C)).toEqual(history);
		expect(history.releases[0]).toMatchObject({
			url: "releases/cccccccccccc/release.json",
			page: "releases/cccccccccccc/index.html",
			systems: ["x86_64-linux"],
		});
	});

	test("previous skips rolled-back releases; a rollback marks only the release it leaves, once", () => {
		const history = withRelease(withRelease(withRelease(empty, A), B), C);
		expect(previousRelease(history)?.releaseId).toBe("bbbbbbbbbbbb");
		const back = withRollback(history, "cccccccccccc", "bbbbbbbbbbbb", "2026-12-04T00:00:00.000Z");
		expect(back.releases.map((e) => [e.releaseId, e.current, e.rolledBack])).toEqual([
			["cccccccccccc", false, true],
			["bbbbbbbbbbbb", true, false],
			["aaaaaaaaaaaa", false, false],
		]);
		expect(back.releases[0]).toMatchObject({ rolledBackTo: "bbbbbbbbbbbb" });
		// Again, later: the mark (and its time) stays as it was.
		expect(withRollback(back, "cccccccccccc", "bbbbbbbbbbbb", "2026-12-05T00:00:00.000Z")).toEqual(
			back,
		);
		expect(previousRelease(back)?.releaseId).toBe("aaaaaaaaaaaa");
		const further = withRollback(back, "bbbbbbbbbbbb", "aaaaaaaaaaaa", "2026-12-05T00:00:00.000Z");
		expect(previousRelease(further)).toBeUndefined();
	});

	test("a release users are put back on, or released again, is no longer marked rolled back", () => {
		const history = withRelease(withRelease(empty, A), B);
		const back = withRollback(history, "bbbbbbbbbbbb", "aaaaaaaaaaaa", "2026-12-04T00:00:00.000Z");
		const forward = withRollback(back, "aaaaaaaaaaaa", "bbbbbbbbbbbb", "2026-12-05T00:00:00.000Z");
		expect(forward.releases.map((e) => [e.releaseId, e.current, e.rolledBack])).toEqual([
			["bbbbbbbbbbbb", true, false],
			["aaaaaaaaaaaa", false, true],
		]);
		expect(forward.releases[0]).not.toHaveProperty("rolledBackTo");
		const again = withRelease(back, B);
		expect(again.releases[0]).toMatchObject({
			releaseId: "bbbbbbbbbbbb",
			current: true,
			rolledBack: false,
		});
	});

	test("an index this version did not write is refused in one sentence, never half-used", () => {
		expect(readHistory(join(site, "none"), "Production")).toEqual(empty);
		const bad = [
			{ stack: "Other", releases: [] },
			{ stack: "Production", releases: [{ releaseId: "../../etc" }] },
			{
				stack: "Production",
				releases: [
					{ ...withRelease(empty, A).releases[0], url: "https://elsewhere.example/release.json" },
				],
			},
			{
				stack: "Production",
				releases: [...withRelease(empty, A).releases, ...withRelease(empty, A).releases],
			},
		];
		for (const [i, value] of bad.entries()) {
			const dir = join(site, `bad-${i}`);
			mkdirSync(dir, { recursive: true });
			writeFileSync(join(dir, "releases.json"), JSON.stringify(value));
			expect(() => readHistory(dir, "Production")).toThrow(
				"is not a release history of the stack Production that this version wrote",
			);
		}
	});

	test("the feed escapes what it shows and parses as Atom", () => {
		const history = withRollback(
			withRelease(withRelease(empty, A), B),
			"bbbbbbbbbbbb",
			"aaaaaaaaaaaa",
			"2026-12-04T00:00:00.000Z",
		);
		const text = renderFeed({ ...history, stack: "A&B<c>" });
		expect(XMLValidator.validate(text)).toBe(true);
		const feed = new XMLParser({ isArray: (name) => name === "entry" }).parse(text).feed;
		expect(feed.title).toBe("nix-images releases (A&B<c>)");
		expect(feed.updated).toBe("2026-12-04T00:00:00.000Z");
		expect(feed.entry[0].title).toBe(`${B.version} (rolled back)`);
		expect(feed.entry[0].summary).toContain("rolled back on 2026-12-04 to aaaaaaaaaaaa");
	});
});
