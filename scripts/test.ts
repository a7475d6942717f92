/**
 * `bun run test`: the whole suite (bun test, unit and end-to-end), then one
 * closing line `N passed, N failed` read from bun's JUnit report, since CI
 * reads that line and not bun's own summary. Extra arguments go to bun test.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { installLockedPackages } from "../tasks/runner/install.ts";

// A fresh clone has no node_modules yet: install the locked dependencies first.
installLockedPackages(resolve(import.meta.dir, ".."));

/** Per test, unless the test sets its own. */
const TEST_TIMEOUT_MS = 60_000;

const dir = mkdtempSync(join(tmpdir(), "nix-images-junit-"));
const report = join(dir, "junit.xml");
const child = Bun.spawn(
	[
		process.execPath,
		"test",
		// Here, not in bunfig.toml: Bun does not apply [test] timeout from there (the failures
		// of a loaded machine said "timed out after 5000ms"). Slow steps (biome, tsc, nix)
		// on a loaded 2-core machine need far more than bun's 5 s default.
		`--timeout=${TEST_TIMEOUT_MS}`,
		"--reporter=junit",
		`--reporter-outfile=${report}`,
		...Bun.argv.slice(2),
	],
	{ stdio: ["inherit", "inherit", "inherit"] },
);
const exitCode = await child.exited;

function count(xml: string, attribute: string): number {
	const match = xml.match(new RegExp(`<testsuites[^>]*\\s${attribute}="(\\d+)"`));
	return Number(match?.[1] ?? 0);
}

let xml = "";
try {
	xml = readFileSync(report, "utf8");
} catch {
	// bun test crashed before writing its report: counted below as one failure.
}
rmSync(dir, { recursive: true, force: true });
const total = count(xml, "tests");
const failed = count(xml, "failures") + count(xml, "errors");
const skipped = count(xml, "skipped");
const passed = total - failed - skipped;
// A run that failed without a report (or with skips, which the suite must not have) still fails.
const failures = failed + (exitCode !== 0 && failed === 0 ? 1 : 0) + skipped;
console.log(`${passed} passed, ${failures} failed`);
process.exit(exitCode !== 0 || failures > 0 ? 1 : 0);
