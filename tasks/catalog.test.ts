import { describe, expect, test } from "bun:test";
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
});
