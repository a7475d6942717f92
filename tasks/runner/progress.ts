/**
 * Progress of long work on stderr: at a terminal one live line, rewritten in
 * place a few times a second; elsewhere (CI logs) a plain line every few
 * seconds, so a log shows the work moving without flooding.
 */

export interface Progress {
	/** The current state, e.g. "1234 of 8192 blocks (15%), 42.0 MB/s, ETA 0:31". */
	update(line: string): void;
	/** Ends the live line (a last update, then a newline at a terminal). */
	done(): void;
}

export interface ProgressSettings {
	/** Written before each line, e.g. "publish: ". */
	prefix: string;
	/** A terminal: rewrite one line. Default: whether stderr is a terminal. */
	live?: boolean;
	write?: (text: string) => void;
	/** Time between lines: default 100 ms live, 5 s otherwise. */
	intervalMs?: number;
	now?: () => number;
}

export function createProgress(settings: ProgressSettings): Progress {
	const live = settings.live ?? Boolean(process.stderr.isTTY);
	const write = settings.write ?? ((text: string) => process.stderr.write(text));
	const interval = settings.intervalMs ?? (live ? 100 : 5000);
	const now = settings.now ?? Date.now;
	let last = Number.NEGATIVE_INFINITY;
	let pending: string | undefined;
	const show = (line: string) => {
		write(live ? `\r\x1b[2K${settings.prefix}${line}` : `${settings.prefix}${line}\n`);
		last = now();
		pending = undefined;
	};
	return {
		update(line) {
			if (now() - last >= interval) show(line);
			else pending = line;
		},
		done() {
			if (pending !== undefined) show(pending);
			if (live && last !== Number.NEGATIVE_INFINITY) write("\n");
		},
	};
}

/** 0:42, 12:05, 1:02:03 */
export function formatSeconds(seconds: number): string {
	const s = Math.max(0, Math.round(seconds));
	const parts = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
	const [hours, minutes, secs] = parts as [number, number, number];
	const two = (n: number) => String(n).padStart(2, "0");
	return hours > 0 ? `${hours}:${two(minutes)}:${two(secs)}` : `${minutes}:${two(secs)}`;
}

/** 512.0 MiB, 2.0 GiB */
export function formatBytes(bytes: number): string {
	const units = ["B", "KiB", "MiB", "GiB", "TiB"];
	let value = bytes;
	let unit = 0;
	while (value >= 1024 && unit < units.length - 1) {
		value /= 1024;
		unit++;
	}
	return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
