#!/usr/bin/env bun
/** `bun task …` (package.json script "task"). */
import { catalog } from "./catalog.ts";
import { runCli } from "./runner/dispatch.ts";

process.exitCode = await runCli(catalog, Bun.argv.slice(2), {
	// No node:path here: every builtin import costs milliseconds of `bun task --list`.
	root: import.meta.dir.slice(0, import.meta.dir.lastIndexOf("/")),
});
