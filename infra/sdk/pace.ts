/**
 * A request rate per region: verify asks every region at once, and each
 * region's answers must not be throttled by its own requests (EC2's and
 * SSM's request limits are per account and region; Bottlerocket's
 * validate-ssm paces itself the same way, twoliter#346). Requests start at
 * least 1/rate apart; the waiting ones queue in order.
 */
export class Pace {
	private next = 0;

	constructor(
		/** Requests per second, at most. */
		readonly perSecond: number,
		private readonly now: () => number = Date.now,
		private readonly sleep: (ms: number) => Promise<void> = (ms) => Bun.sleep(ms),
	) {}

	/** Resolves when the next request may start. */
	async turn(): Promise<void> {
		const at = Math.max(this.now(), this.next);
		this.next = at + 1000 / this.perSecond;
		const wait = at - this.now();
		if (wait > 0) await this.sleep(wait);
	}
}

/** One Pace per region, made on first use. */
export function pacePerRegion(perSecond: number): (region: string) => Pace {
	const paces = new Map<string, Pace>();
	return (region) => {
		let pace = paces.get(region);
		if (pace === undefined) {
			pace = new Pace(perSecond);
			paces.set(region, pace);
		}
		return pace;
	};
}
