import { describe, expect, test } from "bun:test";
import { CatalogError, UsageError } from "./errors.ts";
import { acceptedOptions, dependencyOrder, passthroughTargets, plan } from "./plan.ts";
import { type Catalog, defineTask } from "./task.ts";

const load = () => Promise.resolve({ default: async () => {} });
const system = { type: "string", doc: "System.", default: "x86_64-linux" } as const;
const catalog: Catalog = {
	base: defineTask({ doc: "Base.", options: { system }, load }),
	left: defineTask({ doc: "Left.", depends: ["base"], passthrough: "nix build", load }),
	right: defineTask({ doc: "Right.", depends: ["base"], load }),
	top: defineTask({
		doc: "Top.",
		depends: ["left", "right"],
		options: { flake: { type: "string", doc: "Flake.", default: "." } },
		load,
	}),
	lonely: defineTask({ doc: "Lonely.", load }),
	a: defineTask({ doc: "A.", depends: ["b"], load }),
	b: defineTask({ doc: "B.", depends: ["c"], load }),
	c: defineTask({ doc: "C.", depends: ["a"], load }),
	dangling: defineTask({ doc: "Dangling.", depends: ["missing"], load }),
};

describe("dependencyOrder", () => {
	test("runs dependencies first, each once, in declaration order", () => {
		expect(dependencyOrder(catalog, ["top"])).toEqual(["base", "left", "right", "top"]);
	});
	test("deduplicates across several requested tasks", () => {
		expect(dependencyOrder(catalog, ["right", "top", "base"])).toEqual([
			"base",
			"right",
			"left",
			"top",
		]);
	});
	test("names the whole cycle", () => {
		expect(() => dependencyOrder(catalog, ["a"])).toThrow(
			new CatalogError("Tasks depend on each other in a cycle: a → b → c → a."),
		);
	});
	test("reports a dependency that is not in the catalog", () => {
		expect(() => dependencyOrder(catalog, ["dangling"])).toThrow(
			'Task "dangling" depends on "missing", which is not in the catalog.',
		);
	});
	test("an unknown requested task is a usage error with a suggestion", () => {
		expect(() => dependencyOrder(catalog, ["tpo"])).toThrow(UsageError);
		expect(() => dependencyOrder(catalog, ["tpo"])).toThrow('Did you mean "top"?');
	});
});

describe("plan", () => {
	test("resolves each task's own options and keys steps by task and options", () => {
		const steps = plan(catalog, ["top"], (_task, specs) =>
			Object.fromEntries(
				Object.keys(specs).map((name) => [name, name === "system" ? "aarch64-linux" : "."]),
			),
		);
		expect(steps.map((step) => step.key)).toEqual([
			"base@system=aarch64-linux",
			"left",
			"right",
			"top@flake=.",
		]);
		expect(steps[0]?.options).toEqual({ system: "aarch64-linux" });
	});
	test("runs a task reached twice once", () => {
		const steps = plan(catalog, ["left", "right", "top"], () => ({}));
		expect(steps.filter((step) => step.task === "base")).toHaveLength(1);
	});
});

describe("acceptedOptions", () => {
	test("includes options handed down to dependencies, own options first", () => {
		expect(Object.keys(acceptedOptions(catalog, "top"))).toEqual(["flake", "system"]);
		expect(Object.keys(acceptedOptions(catalog, "lonely"))).toEqual([]);
	});
});

describe("passthroughTargets", () => {
	test("finds the tasks, dependencies included, that take arguments after --", () => {
		expect(passthroughTargets(catalog, ["top"])).toEqual(["left"]);
		expect(passthroughTargets(catalog, ["right"])).toEqual([]);
	});
	test("stops at a named task that drives a tool itself", () => {
		const withTool: Catalog = {
			...catalog,
			tooled: defineTask({ doc: "Tooled.", depends: ["left"], passthrough: "cdk deploy", load }),
		};
		expect(passthroughTargets(withTool, ["tooled"])).toEqual(["tooled"]);
		expect(passthroughTargets(withTool, ["tooled", "left"])).toEqual(["tooled", "left"]);
	});
});
