import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { TaskError } from "./errors.ts";

const STAMP = ".bun-task-lock-hash";

/**
 * The install step of `bun task` and `bun run test`: installs the locked
 * packages when node_modules is missing or older than bun.lock, so `bun task …`
 * works on a fresh clone. It runs before the shell module can load (that
 * module needs zx from node_modules), hence Bun.spawnSync.
 */
export function installLockedPackages(root: string): void {
	const lockfile = join(root, "bun.lock");
	if (!existsSync(lockfile)) return;
	const hash = Bun.hash(readFileSync(lockfile)).toString(16);
	const stamp = join(root, "node_modules", STAMP);
	if (existsSync(stamp) && readFileSync(stamp, "utf8") === hash) return;
	process.stderr.write("Installing the locked dependencies: bun install --frozen-lockfile\n");
	const install = Bun.spawnSync([process.execPath, "install", "--frozen-lockfile"], {
		cwd: root,
		stdio: ["inherit", "inherit", "inherit"],
	});
	if (install.exitCode !== 0) {
		throw new TaskError(
			`\`bun install --frozen-lockfile\` failed with exit code ${install.exitCode}; fix the error above and run the task again.`,
			install.exitCode ?? 1,
		);
	}
	writeFileSync(stamp, hash);
}
