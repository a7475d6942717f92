/**
 * Waiting on AWS: a state is polled with capped exponential backoff (short
 * first waits for what is usually quick, no faster than every `capMs` for
 * what takes long) until it settles or a deadline passes.
 */

export interface PollSettings {
	/** The first wait, doubled after each poll up to capMs. */
	firstMs?: number;
	capMs?: number;
	/** How long to wait at most. */
	limitMs: number;
	/** The error when the limit has passed. */
	late: () => Error;
}

/** Calls `check` until it returns a value (or throws), sleeping between calls. */
export async function pollUntil<T>(
	check: () => Promise<T | undefined>,
	settings: PollSettings,
): Promise<T> {
	const deadline = Date.now() + settings.limitMs;
	const cap = settings.capMs ?? 15_000;
	for (let delay = settings.firstMs ?? 250; ; delay = Math.min(delay * 2, cap)) {
		const settled = await check();
		if (settled !== undefined) return settled;
		if (Date.now() > deadline) throw settings.late();
		await Bun.sleep(Math.min(delay, Math.max(deadline - Date.now(), 0) + 1));
	}
}
