import { describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { bunTask, REPO } from "../test/helpers.ts";
import { catalog } from "./catalog.ts";
import { catalogProblems } from "./runner/validate.ts";

describe("the project's catalog", () => {
	test("has no dangling or cyclic dependencies, clashing options or missing docs", () => {
		expect(catalogProblems(catalog)).toEqual([]);
	});
	test("every task body loads and exports a function", async () => {
		for (const [name, definition] of Object.entries(catalog)) {
			if (definition.load === undefined) {
				expect(
					definition.depends?.length,
					`${name} has neither a body nor dependencies`,
				).toBeGreaterThan(0);
				continue;
			}
			const body = await definition.load();
			expect(typeof body.default, name).toBe("function");
		}
	});
	test("every task names an existing page of the manual", () => {
		for (const [name, definition] of Object.entries(catalog)) {
			const page = definition.manual ?? "";
			expect(page, `${name}'s manual`).toMatch(/^docs\/[a-z0-9-]+\.md$/);
			const path = join(REPO, page);
			expect(existsSync(path) && statSync(path).isFile(), `${name}'s manual ${page} exists`).toBe(
				true,
			);
		}
	});
	test("every task's --help ends with its page of the manual", async () => {
		const names = Object.keys(catalog);
		const runs = await Promise.all(names.map((name) => bunTask([name, "--help"])));
		names.forEach((name, index) => {
			const run = runs[index];
			expect(run?.exitCode, `${name} --help: ${run?.stderr}`).toBe(0);
			expect(run?.stdout.trimEnd(), name).toEndWith(`\nManual: ${catalog[name]?.manual}`);
		});
	});
});
