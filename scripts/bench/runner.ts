/**
 * Runner start-up: listing and help against bare Bun, and against the floor of
 * any `bun task`: `bun run` of a script that does nothing. Target: `bun task --list` ≤ 35 ms.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Measurement, measure, report } from "./measure.ts";

/** A project whose `task` script is an empty file, with the same bunfig as ours. */
function emptyProject(): string {
	const dir = mkdtempSync(join(tmpdir(), "nix-images-bench-"));
	writeFileSync(
		join(dir, "package.json"),
		JSON.stringify({ type: "module", scripts: { task: "bun noop.ts" } }),
	);
	writeFileSync(join(dir, "noop.ts"), "");
	writeFileSync(join(dir, "bunfig.toml"), "[run]\nsilent = true\n");
	return dir;
}

export function benchRunner(root: string): Measurement[] {
	const bun = process.execPath;
	const empty = emptyProject();
	try {
		const results = [
			measure("bun -e ''", [bun, "-e", ""], { cwd: root }),
			measure("bun task (empty script)", [bun, "task"], { cwd: empty }),
			measure("bun task --list", [bun, "task", "--list"], { cwd: root }),
			measure("bun task clean --help", [bun, "task", "clean", "--help"], { cwd: root }),
		];
		report("Runner start-up", results);
		const [, floor, list] = results;
		if (floor && list) {
			const verdict = list.median <= 35 ? "meets" : "misses";
			console.log(
				`  bun task --list: ${list.median.toFixed(1)} ms, ${verdict} the 35 ms target; ${(list.median - floor.median).toFixed(1)} ms above an empty \`bun task\` script`,
			);
		}
		return results;
	} finally {
		rmSync(empty, { recursive: true, force: true });
	}
}
