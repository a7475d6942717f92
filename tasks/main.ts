#!/usr/bin/env bun
/** `bun task …` (package.json script "task"). */
import { catalog } from "./catalog.ts";
import { lockDirectory } from "./project/outputs.ts";
import { runCli } from "./runner/dispatch.ts";

// No node:path here: every builtin import costs milliseconds of `bun task --list`.
const root = import.meta.dir.slice(0, import.meta.dir.lastIndexOf("/"));
process.exitCode = await runCli(catalog, Bun.argv.slice(2), {
	root,
	lockDir: lockDirectory(root),
	version: async () => {
		const { name, version } = (await import("../package.json")).default;
		return `${name} ${version}`;
	},
});
