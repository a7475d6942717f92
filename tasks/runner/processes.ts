/**
 * Every child the runner starts, so a signal can stop them all. zx and Bun.$ leave
 * children running when their parent gets SIGTERM (CI cancellation), so the runner
 * kills each child's whole tree itself, waits for it, and exits 128 + signal number.
 */

export interface RunningChild {
	command: string;
	/** Signals the child and every process below it. */
	kill: (signal: NodeJS.Signals) => Promise<void>;
	/** Settles when the child has exited. */
	exited: Promise<unknown>;
}

const EXIT_CODES = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const;
type HandledSignal = keyof typeof EXIT_CODES;

/** How long children get to exit after the signal before they are killed outright. */
const GRACE_MS = 5000;

/** How long the cleanups of an interrupted run (e.g. terminating an instance) may take. */
const CLEANUP_MS = 30_000;

/**
 * A terminal's Ctrl-C reaches the whole process group, and `bun run` (under
 * `bun task`) forwards its own copy of it: the same signal again within this
 * window is that copy, the same Ctrl-C, not a user's second one.
 */
export const SAME_CTRL_C_MS = 1000;

const running = new Set<RunningChild>();
const interruptHooks: (() => void | Promise<void>)[] = [];
const exitHooks: (() => void)[] = [];
let interruption: HandledSignal | undefined;
let interruptedAt = 0;
let installed = false;

/** Registers a child until it exits. */
export function track(child: RunningChild): void {
	running.add(child);
	const forget = () => running.delete(child);
	child.exited.then(forget, forget);
}

/** The signal that is stopping the runner, if one is. */
export function interruptedBy(): HandledSignal | undefined {
	return interruption;
}

/**
 * Runs just before the runner exits on a signal (e.g. to close a CI log group,
 * or to terminate an instance): hooks run in order, each awaited, all within
 * a time limit.
 */
export function onInterrupt(hook: () => void | Promise<void>): void {
	interruptHooks.push(hook);
}

async function runInterruptHooks(): Promise<void> {
	const all = (async () => {
		for (const hook of interruptHooks) {
			try {
				await hook();
			} catch {}
		}
	})();
	await Promise.race([all, Bun.sleep(CLEANUP_MS)]);
}

/**
 * Runs synchronously as the process exits, however it exits (a second
 * Ctrl-C, process.exit, the end): what must never outlive the run, such as
 * a file with a login in it.
 */
export function onExit(hook: () => void): void {
	exitHooks.push(hook);
}

/** A promise that never settles: code that notices the interruption waits here for the exit. */
export function untilExit(): Promise<never> {
	return new Promise(() => {});
}

async function stopEverything(signal: HandledSignal): Promise<void> {
	const children = [...running];
	if (children.length > 0) {
		const noun = children.length === 1 ? "command" : "commands";
		process.stderr.write(`\nGot ${signal}: stopping ${children.length} running ${noun}.\n`);
	}
	await Promise.all(children.map((child) => child.kill(signal).catch(() => {})));
	const exited = Promise.allSettled(children.map((child) => child.exited));
	const graceOver = Bun.sleep(GRACE_MS).then(() => "timeout" as const);
	if ((await Promise.race([exited, graceOver])) === "timeout") {
		await Promise.all([...running].map((child) => child.kill("SIGKILL").catch(() => {})));
		await exited;
	}
}

function handle(signal: HandledSignal): void {
	if (interruption !== undefined) {
		// bun run's copy of the same Ctrl-C: the cleanups are under way already.
		if (signal === interruption && Date.now() - interruptedAt < SAME_CTRL_C_MS) return;
		// A second signal: no more waiting (the exit hooks still remove what must go).
		for (const child of running) child.kill("SIGKILL").catch(() => {});
		process.exit(EXIT_CODES[interruption]);
	}
	interruption = signal;
	interruptedAt = Date.now();
	stopEverything(signal)
		.then(runInterruptHooks)
		.finally(() => process.exit(EXIT_CODES[signal]));
}

/** Installs the SIGINT/SIGTERM/SIGHUP handlers once. */
export function installSignalHandlers(): void {
	if (installed) return;
	installed = true;
	for (const signal of Object.keys(EXIT_CODES) as HandledSignal[]) {
		process.on(signal, () => handle(signal));
	}
	process.on("exit", () => {
		for (const hook of exitHooks.splice(0)) {
			try {
				hook();
			} catch {}
		}
	});
}
