/**
 * A raw disk image as EBS sees it: 512 KiB blocks, of which only those that
 * hold data need sending (a freshly made ext4 image is mostly zeros).
 */
import { readSync } from "node:fs";

/** The EBS direct APIs' block size. */
export const BLOCK_SIZE = 512 * 1024;

/** Blocks in flight at once, unless the request says otherwise (the clients keep as many sockets open). */
export const UPLOAD_CONCURRENCY = 32;

const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

export function blockCount(sizeBytes: number): number {
	return Math.ceil(sizeBytes / BLOCK_SIZE);
}

export interface DataBlock {
	index: number;
	/** BLOCK_SIZE bytes; the image's last block is padded with zeros. */
	data: Buffer;
}

/**
 * A fixed set of block buffers, reused: memory stays at `size` blocks however
 * large the image, and taking one waits while all are in use (which is what
 * bounds the requests in flight).
 */
export class BlockPool {
	private readonly free: Buffer[] = [];
	private readonly waiting: ((buffer: Buffer) => void)[] = [];

	constructor(size: number) {
		for (let i = 0; i < size; i++) this.free.push(Buffer.allocUnsafe(BLOCK_SIZE));
	}

	take(): Promise<Buffer> {
		const buffer = this.free.pop();
		return buffer ? Promise.resolve(buffer) : new Promise((resolve) => this.waiting.push(resolve));
	}

	give(buffer: Buffer): void {
		const next = this.waiting.shift();
		if (next) next(buffer);
		else this.free.push(buffer);
	}
}

/**
 * The blocks of the open file `fd` that are not all zeros, in order (from
 * `first` on); `onZero` is told of each skipped one. Each yielded buffer
 * comes from `pool`, and the caller gives it back when done with it. Reads
 * are synchronous (fast, no promise per block), with a yield to the event
 * loop every few blocks, so requests in flight keep moving while zeros are
 * skipped. The caller opens and closes the file: the one it checked.
 */
export async function* dataBlocks(
	fd: number,
	onZero: (index: number) => void = () => {},
	pool: BlockPool = new BlockPool(1),
) {
	let buffer: Buffer | undefined = await pool.take();
	try {
		for (let index = 0; buffer !== undefined; index++) {
			const read = readFully(fd, buffer, index * BLOCK_SIZE);
			if (read === 0) break;
			if (read < BLOCK_SIZE) buffer.fill(0, read);
			if (buffer.equals(ZERO_BLOCK)) {
				onZero(index);
				if (index % 64 === 63) await new Promise((resolve) => setImmediate(resolve));
			} else {
				// The caller owns it now, and gives it back to the pool.
				yield { index, data: buffer } satisfies DataBlock;
				buffer = undefined;
				if (read === BLOCK_SIZE) buffer = await pool.take();
			}
			if (read < BLOCK_SIZE) break;
		}
	} finally {
		if (buffer !== undefined) pool.give(buffer);
	}
}

/** Reads up to one block at `position`; short only at the end of the file. */
function readFully(fd: number, buffer: Buffer, position: number): number {
	let total = 0;
	while (total < BLOCK_SIZE) {
		const read = readSync(fd, buffer, total, BLOCK_SIZE - total, position + total);
		if (read === 0) break;
		total += read;
	}
	return total;
}

/** How many blocks hold data and how many are zeros: the upload plan, without sending anything. */
export async function uploadPlan(fd: number): Promise<{ data: number; zero: number }> {
	let zero = 0;
	let data = 0;
	const pool = new BlockPool(1);
	for await (const block of dataBlocks(fd, () => zero++, pool)) {
		data++;
		pool.give(block.data);
	}
	return { data, zero };
}
