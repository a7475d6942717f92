import { describe, expect, test } from "bun:test";
import { renderGeneralHelp, renderHelp, renderJson, renderList } from "./render.ts";
import { type Catalog, defineTask } from "./task.ts";

const load = () => Promise.resolve({ default: async () => {} });
const catalog: Catalog = {
	zeta: defineTask({
		doc: "Build the zeta image.\nIt takes a while; remote builders help.",
		options: {
			system: {
				type: "string",
				doc: "Nix system to build for.",
				choices: ["x86_64-linux", "aarch64-linux"],
				env: "system",
				default: { describe: "this host's system", resolve: () => "x86_64-linux" },
			},
		},
		passthrough: "nix build",
		load,
	}),
	alpha: defineTask({ doc: "Both images.", depends: ["zeta"], manual: "docs/images.md", load }),
	_helper: defineTask({ doc: "Hidden helper.", load }),
	plain: defineTask({
		doc: "No options.",
		options: { force: { type: "boolean", doc: "Do it anyway." } },
		load,
	}),
};

describe("renderList", () => {
	test("shows visible tasks in catalog order with the first doc line, aligned", () => {
		const text = renderList(catalog);
		expect(text).toContain(
			"  zeta   Build the zeta image.\n  alpha  Both images.\n  plain  No options.\n",
		);
		expect(text).not.toContain("_helper");
		expect(text).not.toContain("It takes a while");
		expect(text).toContain("bun task <task> --help");
	});
});

describe("renderHelp", () => {
	test("shows the whole doc, each option's type, choices, default and variable, and the tool", () => {
		const text = renderHelp(catalog, "zeta");
		expect(text).toStartWith("Usage: bun task zeta [options] [-- nix build arguments]\n");
		expect(text).toContain("It takes a while; remote builders help.");
		expect(text).toContain(
			"--system <system>  Nix system to build for. One of: x86_64-linux, aarch64-linux. Default: $system, else this host's system.",
		);
		expect(text).toContain("--dry-run");
		expect(text).toContain("Depends on: nothing.");
		expect(text).toContain("Arguments after -- go to `nix build`.");
	});
	test("lists options handed to dependencies and the dependencies themselves", () => {
		const text = renderHelp(catalog, "alpha");
		expect(text).toContain("Options handed to its dependencies:\n  --system <system>");
		expect(text).toContain("Depends on: zeta.");
		expect(text).toStartWith("Usage: bun task alpha [options] [-- nix build arguments]");
	});
	test("shows boolean defaults and no passthrough when none is taken", () => {
		const text = renderHelp(catalog, "plain");
		expect(text).toContain("--force  Do it anyway. Default: false.");
		expect(text).toStartWith("Usage: bun task plain [options]\n");
		expect(text).not.toContain("Arguments after --");
	});
	test("ends with the task's page of the manual, where it names one", () => {
		expect(renderHelp(catalog, "alpha")).toEndWith(
			"Depends on: zeta.\nArguments after -- go to `nix build`.\n\nManual: docs/images.md\n",
		);
		expect(renderHelp(catalog, "zeta")).not.toContain("Manual:");
	});
	test("works for hidden tasks too", () => {
		expect(renderHelp(catalog, "_helper")).toContain("Hidden helper.");
	});
});

describe("renderJson", () => {
	test("gives names, docs, options, dependencies and manual pages of visible tasks", () => {
		const parsed = JSON.parse(renderJson(catalog));
		expect(parsed.tasks.map((t: { name: string }) => t.name)).toEqual(["zeta", "alpha", "plain"]);
		expect(parsed.tasks[1]).toEqual({
			name: "alpha",
			doc: "Both images.",
			summary: "Both images.",
			options: [
				{
					name: "system",
					type: "string",
					doc: "Nix system to build for.",
					choices: ["x86_64-linux", "aarch64-linux"],
					default: "$system, else this host's system",
					env: "system",
				},
			],
			depends: ["zeta"],
			manual: "docs/images.md",
		});
		expect(parsed.tasks[0].passthrough).toBe("nix build");
		expect(parsed.tasks[0].manual).toBeUndefined();
	});
});

describe("renderGeneralHelp", () => {
	test("adds the runner options to the list", () => {
		const text = renderGeneralHelp(catalog);
		expect(text).toContain("--completions <shell>");
		expect(text).toContain("--list [--json]");
		expect(text).toContain("zeta");
	});
});
