/**
 * The EBS direct upload against `sha256sum` of the same file, in the same run:
 * a 2 GiB sparse image, a quarter of it data, uploaded through the real SDK
 * to a loopback sink that accepts blocks as fast as it can. Targets: bytes
 * sent ÷ logical bytes equal to the data fraction; throughput ≥ 1.5× that of
 * sha256sum (zero blocks need neither hashing nor sending); peak memory ≤ 200 MiB.
 * Then an upload killed (SIGKILL) once half of the data blocks are sent, and
 * its re-run, which should send only the rest (40–60 % of the data blocks).
 * With BENCH_BEFORE=<git revision>, that revision's uploader is timed in the
 * same runs too (a change's throughput before and after).
 */
import { closeSync, openSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import { BLOCK_SIZE } from "../../infra/publish/blocks.ts";
import { projectAt, tempDir } from "../../test/fixtures/projects.ts";
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

/**
 * An upload SIGKILLed once it reports half of the data blocks sent, then
 * run again with the state it left: what the re-run sends.
 */
async function killedAtHalfThenResumed(root: string, image: string, url: string, state: string) {
	const half = Bun.file(image).size / 4 / BLOCK_SIZE / 2;
	const args = [
		process.execPath,
		join(import.meta.dir, "upload.ts"),
		image,
		"resume0000000000",
		state,
	];
	const env = { ...process.env, SINK_URL: url, UPLOAD_PROGRESS: "1" };
	const first = Bun.spawn(args, { cwd: root, env, stdout: "ignore", stderr: "pipe" });
	let sentBeforeKill = 0;
	const decoder = new TextDecoder();
	for await (const chunk of first.stderr) {
		for (const line of decoder.decode(chunk).split("\n")) {
			const sent = Number(/^sent (\d+)$/.exec(line)?.[1] ?? 0);
			sentBeforeKill = Math.max(sentBeforeKill, sent);
		}
		if (sentBeforeKill >= half) {
			first.kill("SIGKILL");
			break;
		}
	}
	await first.exited;
	const again = Bun.spawnSync(args.slice(0, 5), {
		cwd: root,
		env: { ...process.env, SINK_URL: url },
		stdout: "pipe",
		stderr: "pipe",
	});
	if (again.exitCode !== 0) throw new Error(`the re-run failed: ${again.stderr.toString()}`);
	const { blocksSent, blocksResumed } = JSON.parse(again.stdout.toString());
	return { sentBeforeKill, blocksSent, blocksResumed };
}

export async function benchPublish() {
	const dir = tempDir("bench-publish");
	const image = join(dir, "sparse.img");
	const root = join(import.meta.dir, "../..");
	const revision = process.env.BENCH_BEFORE;
	const before = revision ? projectAt(revision) : undefined;
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
		const uploadBefore: number[] = [];
		const rss: number[] = [];
		let bytesSent = 0;
		// A warm-up of each first, so both read the file from the page cache.
		for (let run = -1; run < RUNS; run++) {
			let started = performance.now();
			const hash = Bun.spawnSync(["sha256sum", image], { stdout: "ignore" });
			if (hash.exitCode !== 0) throw new Error("sha256sum failed");
			if (run >= 0) sha256sum.push(performance.now() - started);

			if (before) {
				started = performance.now();
				const old = Bun.spawnSync(
					[
						process.execPath,
						join(before.dir, "scripts/bench/upload.ts"),
						image,
						`before${run + 2}`.padEnd(16, "0"),
					],
					{
						cwd: before.dir,
						env: { ...process.env, SINK_URL: url },
						stdout: "pipe",
						stderr: "pipe",
					},
				);
				if (old.exitCode !== 0) throw new Error(`the upload failed: ${old.stderr.toString()}`);
				if (run >= 0) uploadBefore.push(performance.now() - started);
			}

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
		if (uploadBefore.length > 0) {
			const beforeMs = median(uploadBefore);
			console.log(
				`  ensureSnapshot of ${revision}      ${beforeMs.toFixed(0).padStart(6)} ms  ${throughput(beforeMs)} MB/s of image  ${(hashMs / beforeMs).toFixed(2)}× sha256sum's throughput; this one's is ${((ratio / (hashMs / beforeMs)) * 100).toFixed(1)} % of it`,
			);
		}
		console.log(
			`  bytes sent ÷ logical bytes: ${(bytesSent / size).toFixed(4)} (the data fraction is 0.2500: ${bytesSent === size / 4 ? "met" : "missed"})`,
		);
		console.log(
			`  peak memory of the uploader (max RSS): ${peak.toFixed(0)} MiB (target ≤ 200 MiB: ${peak <= 200 ? "met" : "missed"})`,
		);
		const resumed = await killedAtHalfThenResumed(root, image, url, join(dir, "state.json"));
		const dataBlocks = size / 4 / BLOCK_SIZE;
		const fraction = resumed.blocksSent / dataBlocks;
		console.log(
			`  killed after ${resumed.sentBeforeKill} of ${dataBlocks} data blocks, the re-run sent ${resumed.blocksSent} (${(100 * fraction).toFixed(1)} %; target 40–60 %: ${fraction >= 0.4 && fraction <= 0.6 ? "met" : "missed"}) and skipped ${resumed.blocksResumed} acknowledged before`,
		);
	} finally {
		sink.kill();
		await sink.exited;
		before?.dispose();
		rmSync(dir, { recursive: true, force: true });
	}
}
