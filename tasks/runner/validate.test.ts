import { describe, expect, test } from "bun:test";
import { type Catalog, defineTask } from "./task.ts";
import { catalogProblems } from "./validate.ts";

const load = () => Promise.resolve({ default: async () => {} });

describe("catalogProblems", () => {
	test("finds reserved options, type clashes, cycles, dangling dependencies and empty docs", () => {
		const catalog: Catalog = {
			one: defineTask({ doc: "One.", options: { help: { type: "boolean", doc: "Mine." } }, load }),
			two: defineTask({ doc: "Two.", options: { system: { type: "string", doc: "S." } }, load }),
			three: defineTask({
				doc: "Three.",
				options: { system: { type: "boolean", doc: "S." } },
				load,
			}),
			loop: defineTask({ doc: "Loop.", depends: ["loop"], load }),
			dangling: defineTask({ doc: " ", depends: ["nowhere"], load }),
			Bad_Name: defineTask({ doc: "Bad.", load }),
			empty: defineTask({ doc: "Nothing at all." }),
		};
		expect(catalogProblems(catalog)).toEqual([
			'Task "one" declares --help, which the runner reserves.',
			'--system is a string in "two" but a boolean in "three".',
			"Tasks depend on each other in a cycle: loop → loop.",
			'Task "dangling" has no doc.',
			'Task "dangling" depends on "nowhere", which is not in the catalog.',
			'Task name "Bad_Name" is not lower-case kebab-case.',
			'Task "empty" has neither a body nor dependencies.',
		]);
	});
	test("accepts a sound catalog", () => {
		const catalog: Catalog = {
			a: defineTask({ doc: "A.", options: { system: { type: "string", doc: "S." } }, load }),
			b: defineTask({
				doc: "B.",
				depends: ["a"],
				options: { system: { type: "string", doc: "S." } },
				load,
			}),
		};
		expect(catalogProblems(catalog)).toEqual([]);
	});
});
