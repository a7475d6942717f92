/**
 * Which blocks of a pending snapshot AWS has acknowledged, remembered on this
 * machine so a re-run of an interrupted upload sends only the rest. A block
 * AWS acknowledged is there until the snapshot is completed or times out,
 * and putting it again would write the same bytes, so a checkpoint that lags
 * behind costs only blocks sent twice, never a wrong snapshot. It is written
 * (through the caller's atomic save) every few seconds or few hundred
 * blocks, not per block, so the upload's speed does not suffer; and on every
 * way out (flush).
 */

/** What the state file holds: the snapshot the blocks belong to, and a bitmap of their indexes. */
export interface AcknowledgedBlocks {
	snapshotId: string;
	/** Base64 of a bitmap, bit i (least significant first within each byte) for block i. */
	bitmap: string;
	/** How many bits are set: shown in messages without decoding. */
	count: number;
}

export interface CheckpointSettings {
	/** At most this long between saves while blocks keep being acknowledged. */
	everyMs: number;
	/** …or this many newly acknowledged blocks. */
	everyBlocks: number;
}

export const DEFAULT_CHECKPOINTS: CheckpointSettings = { everyMs: 5_000, everyBlocks: 256 };

export class BlockCheckpoint {
	private readonly bits: Uint8Array;
	private unsaved = 0;
	private savedAt: number;
	private acknowledgedCount = 0;

	constructor(
		readonly snapshotId: string,
		totalBlocks: number,
		recorded: AcknowledgedBlocks | undefined,
		private readonly save: (blocks: AcknowledgedBlocks) => void,
		private readonly settings: CheckpointSettings = DEFAULT_CHECKPOINTS,
		private readonly now: () => number = Date.now,
	) {
		this.bits = new Uint8Array(Math.ceil(totalBlocks / 8));
		// Only what was recorded for this very snapshot counts.
		if (recorded?.snapshotId === snapshotId) {
			const stored = Buffer.from(recorded.bitmap, "base64");
			this.bits.set(stored.subarray(0, this.bits.length));
			for (let index = 0; index < totalBlocks; index++)
				if (this.has(index)) this.acknowledgedCount++;
		}
		this.savedAt = this.now();
	}

	/** Blocks acknowledged so far, by this run or the one it resumes. */
	get count(): number {
		return this.acknowledgedCount;
	}

	has(index: number): boolean {
		return ((this.bits[index >> 3] ?? 0) & (1 << (index & 7))) !== 0;
	}

	/** Records that AWS acknowledged `index`; saves when enough time or blocks went by. */
	acknowledge(index: number): void {
		if (this.has(index)) return;
		this.bits[index >> 3] = (this.bits[index >> 3] ?? 0) | (1 << (index & 7));
		this.acknowledgedCount++;
		this.unsaved++;
		if (
			this.unsaved >= this.settings.everyBlocks ||
			this.now() - this.savedAt >= this.settings.everyMs
		) {
			this.flush();
		}
	}

	/** Saves what is acknowledged now (on every way out, and periodically). */
	flush(): void {
		this.unsaved = 0;
		this.savedAt = this.now();
		this.save({
			snapshotId: this.snapshotId,
			bitmap: Buffer.from(this.bits).toString("base64"),
			count: this.acknowledgedCount,
		});
	}
}
