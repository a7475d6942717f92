/** Timing whole commands: the median of repeated runs, after warm-up runs. */

export interface Measurement {
	label: string;
	median: number;
	runs: number;
}

export interface MeasureSettings {
	runs?: number;
	warmup?: number;
	cwd?: string;
	env?: Record<string, string>;
	/** Runs before every timed run (e.g. to make a rebuild a no-op or a cold start). */
	before?: () => void;
}

export function median(values: readonly number[]): number {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 === 1
		? (sorted[middle] ?? 0)
		: ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Runs `command` repeatedly and returns the median wall time in milliseconds. */
export function measure(
	label: string,
	command: string[],
	settings: MeasureSettings = {},
): Measurement {
	const runs = settings.runs ?? 30;
	const times: number[] = [];
	for (let i = 0; i < (settings.warmup ?? 3) + runs; i++) {
		settings.before?.();
		const started = performance.now();
		const result = Bun.spawnSync(command, {
			cwd: settings.cwd,
			env: settings.env,
			stdout: "ignore",
			stderr: "pipe",
		});
		const elapsed = performance.now() - started;
		if (result.exitCode !== 0) {
			throw new Error(
				`${label}: \`${command.join(" ")}\` exited with ${result.exitCode}: ${result.stderr}`,
			);
		}
		if (i >= (settings.warmup ?? 3)) times.push(elapsed);
	}
	return { label, median: median(times), runs };
}

/** Prints measurements as a table, each with its ratio to the first (the baseline). */
export function report(title: string, measurements: readonly Measurement[]): void {
	const baseline = measurements[0];
	if (baseline === undefined) return;
	const width = Math.max(...measurements.map((m) => m.label.length));
	console.log(`\n${title} (median of ${baseline.runs} runs each, same session)`);
	for (const m of measurements) {
		const ratio =
			m === baseline ? "baseline" : `${(m.median / baseline.median).toFixed(2)}× baseline`;
		console.log(`  ${m.label.padEnd(width)}  ${m.median.toFixed(1).padStart(8)} ms  ${ratio}`);
	}
}
