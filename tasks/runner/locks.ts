/**
 * Locks on what a task writes, so two runs never interleave their writes.
 *
 * A lock is a file in the lock directory naming the holder: its pid, the
 * kernel's start time of that process (so a recycled pid is not mistaken for
 * the holder) and its command line. A path's lock conflicts with a lock on
 * the same path, an ancestor or a descendant (`clean` of outputs/ and a build
 * of one image do not run at once). A lock whose holder is gone (crashed,
 * SIGKILLed) is taken over.
 */
import {
	closeSync,
	linkSync,
	mkdirSync,
	openSync,
	readdirSync,
	readFileSync,
	renameSync,
	rmSync,
	writeSync,
} from "node:fs";
import { join } from "node:path";
import { TaskError } from "./errors.ts";

interface Holder {
	pid: number;
	/** Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot. */
	started: string;
	command: string;
	/** The locked path, relative to the project root. */
	path: string;
	since: string;
}

/** Field 22 of /proc/<pid>/stat, or undefined when there is no such process. */
function processStart(pid: number): string | undefined {
	try {
		const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
		// The command name (field 2) may hold spaces and parentheses: count from its end.
		return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
	} catch {
		return undefined;
	}
}

function alive(holder: Holder): boolean {
	return processStart(holder.pid) === holder.started;
}

function readHolder(file: string): Holder | undefined {
	try {
		return JSON.parse(readFileSync(file, "utf8")) as Holder;
	} catch {
		return undefined;
	}
}

/** Removes a file if it is there; a read-only file system may refuse even that. */
function removeQuietly(path: string): void {
	try {
		rmSync(path, { force: true });
	} catch {}
}

/** Whether one of two root-relative paths is the other or lies inside it. */
function overlaps(a: string, b: string): boolean {
	return a === b || a.startsWith(`${b}/`) || b.startsWith(`${a}/`);
}

/** A lock file's name for a path: readable, and unique per path. */
function lockName(path: string): string {
	return `${path.replaceAll("/", "%")}.lock`;
}

export interface Lock {
	release: () => void;
}

function refusal(path: string, holder: Holder): TaskError {
	return new TaskError(
		`${holder.path === path ? path : `${path} (through ${holder.path})`} is being written by another run (pid ${holder.pid}: ${holder.command}, since ${holder.since}); wait for it to finish, or stop it, and run the task again.`,
	);
}

/**
 * Moves the lock of a holder that is gone aside and removes it. Several runs
 * may try at once, and one may already have linked its own lock in its
 * place: what was moved aside is checked, and a live lock is put back.
 */
export function takeOver(file: string, dead: Pick<Holder, "pid" | "started"> | undefined): void {
	const aside = `${file}.stale-${process.pid}`;
	try {
		renameSync(file, aside);
	} catch {
		return; // gone already: another taker moved it
	}
	const moved = readHolder(aside);
	const same = moved?.pid === dead?.pid && moved?.started === dead?.started;
	if (!same && moved !== undefined && alive(moved)) {
		try {
			linkSync(aside, file);
		} catch {}
	}
	rmSync(aside, { force: true });
}

/**
 * Takes the lock on `path` (relative to the project root) for this process,
 * or throws a TaskError naming the live run that holds it or an overlapping one.
 */
export function acquireLock(lockDir: string, path: string, command: string): Lock {
	mkdirSync(lockDir, { recursive: true });
	const file = join(lockDir, lockName(path));
	const me: Holder = {
		pid: process.pid,
		started: processStart(process.pid) ?? "",
		command,
		path,
		since: new Date().toTimeString().slice(0, 8),
	};
	// Written whole under a private name, then linked into place: link() fails if
	// the lock exists, so two runs can never both believe they hold it.
	const draft = `${file}.${process.pid}.draft`;
	try {
		const fd = openSync(draft, "w", 0o644);
		try {
			writeSync(fd, JSON.stringify(me));
		} finally {
			closeSync(fd);
		}
	} catch (error) {
		removeQuietly(draft);
		// Name the lock directory, not a file name the user never chose.
		const { message, code, syscall } = error as NodeJS.ErrnoException;
		throw Object.assign(new Error(message), { code, syscall, path: lockDir });
	}
	try {
		for (let attempt = 0; ; attempt++) {
			try {
				linkSync(draft, file);
				break;
			} catch (error) {
				if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
				const holder = readHolder(file);
				if (holder !== undefined && alive(holder)) throw refusal(path, holder);
				if (attempt > 3) {
					throw new TaskError(
						`${path} is being locked and unlocked by other runs as this one tries (${file}); run the task again.`,
					);
				}
				takeOver(file, holder);
			}
		}
	} finally {
		removeQuietly(draft);
	}
	// Only our own lock: never one another run holds.
	const release = () => {
		if (readHolder(file)?.pid === process.pid) rmSync(file, { force: true });
	};
	// Overlapping paths: both runs may see each other and both refuse, never both proceed.
	for (const name of readdirSync(lockDir)) {
		if (!name.endsWith(".lock") || name === lockName(path)) continue;
		const holder = readHolder(join(lockDir, name));
		const other = holder !== undefined && holder.pid !== process.pid;
		if (other && overlaps(holder.path, path) && alive(holder)) {
			release();
			throw refusal(path, holder);
		}
	}
	return { release };
}
