/**
 * The EBS direct upload against `sha256sum` of the same file, in the same run:
 * a 2 GiB sparse image, a quarter of it data, uploaded through the real SDK
 * to a loopback sink that accepts blocks as fast as it can. Targets: bytes
 * sent ÷ logical bytes equal to the data fraction; throughput ≥ 1.5× that of
 * sha256sum (zero blocks need neither hashing nor sending); peak memory ≤ 200 MiB.
 */
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BLOCK_SIZE } from "../../infra/publish/blocks.ts";
import { tempDir } from "../../test/fixtures/projects.ts";
import { median } from "./measure.ts";

const GIB = 1024 ** 3;
const RUNS = 5;

/** 2 GiB with every fourth 512 KiB block full of data (each block different), the rest holes. */
function sparseImage(path: string): number {
	const size = 2 * GIB;
	const fd = openSync(path, "w");
	const pattern = Buffer.alloc(BLOCK_SIZE);
	for (let i = 0; i < BLOCK_SIZE; i += 4) pattern.writeUInt32LE((i * 2654435761) >>> 0, i);
	for (let index = 0; index < size / BLOCK_SIZE; index += 4) {
		pattern.writeUInt32LE(index, 0);
		writeSync(fd, pattern, 0, BLOCK_SIZE, index * BLOCK_SIZE);
	}
	closeSync(fd);
	Bun.spawnSync(["truncate", "-s", String(size), path]);
	return size;
}

export async function benchPublish() {
	const dir = tempDir("bench-publish");
	const image = join(dir, "sparse.img");
	const root = join(import.meta.dir, "../..");
	const sink = Bun.spawn([process.execPath, join(import.meta.dir, "ebs-sink.ts")], {
		stdout: "pipe",
		stderr: "inherit",
	});
	try {
		const size = sparseImage(image);
		const reader = sink.stdout.getReader();
		const url = new TextDecoder().decode((await reader.read()).value).trim();
		reader.releaseLock();

		const sha256sum: number[] = [];
		const upload: number[] = [];
		const rss: number[] = [];
		let bytesSent = 0;
		// A warm-up of each first, so both read the file from the page cache.
		for (let run = -1; run < RUNS; run++) {
			let started = performance.now();
			const hash = Bun.spawnSync(["sha256sum", image], { stdout: "ignore" });
			if (hash.exitCode !== 0) throw new Error("sha256sum failed");
			if (run >= 0) sha256sum.push(performance.now() - started);

			started = performance.now();
			const child = Bun.spawnSync(
				[
					process.execPath,
					join(import.meta.dir, "upload.ts"),
					image,
					`bench${run + 2}`.padEnd(16, "0"),
				],
				{ cwd: root, env: { ...process.env, SINK_URL: url }, stdout: "pipe", stderr: "pipe" },
			);
			if (child.exitCode !== 0) throw new Error(`the upload failed: ${child.stderr.toString()}`);
			if (run >= 0) {
				upload.push(performance.now() - started);
				rss.push(child.resourceUsage.maxRSS);
				bytesSent = JSON.parse(child.stdout.toString()).bytesSent;
			}
		}
		const hashMs = median(sha256sum);
		const uploadMs = median(upload);
		const throughput = (ms: number) => (size / (ms / 1000) / 1e6).toFixed(0);
		const ratio = hashMs / uploadMs;
		const peak = Math.max(...rss) / 1024 ** 2;
		console.log(
			`\nPublish upload (2 GiB sparse image, 25% data; median of ${RUNS} runs each, same session)`,
		);
		console.log(
			`  sha256sum of the image          ${hashMs.toFixed(0).padStart(6)} ms  ${throughput(hashMs)} MB/s of image  baseline`,
		);
		console.log(
			`  ensureSnapshot to loopback sink ${uploadMs.toFixed(0).padStart(6)} ms  ${throughput(uploadMs)} MB/s of image  ${ratio.toFixed(2)}× sha256sum's throughput (target ≥ 1.5: ${ratio >= 1.5 ? "met" : "missed"})`,
		);
		console.log(
			`  bytes sent ÷ logical bytes: ${(bytesSent / size).toFixed(4)} (the data fraction is 0.2500: ${bytesSent === size / 4 ? "met" : "missed"})`,
		);
		console.log(
			`  peak memory of the uploader (max RSS): ${peak.toFixed(0)} MiB (target ≤ 200 MiB: ${peak <= 200 ? "met" : "missed"})`,
		);
	} finally {
		sink.kill();
		await sink.exited;
		rmSync(dir, { recursive: true, force: true });
	}
}
