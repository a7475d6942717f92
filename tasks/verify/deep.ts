/**
 * `verify --deep`: each system's source snapshot read back from EBS (not
 * its regional copies: one read proves the bytes the copies were made
 * from), compared with what publish recorded of it (release.json's
 * snapshotContent: the blocks with data and the LINEAR aggregate checksum)
 * and, where this machine has it, with the built nixos.img itself. Reads
 * only; GetSnapshotBlock is billed per block (see snapshot-read-back.ts).
 */
import { existsSync } from "node:fs";
import { localSnapshotContent } from "../../infra/publish/snapshot-content.ts";
import { compare, type Finding } from "../../infra/verify/findings.ts";
import { uncheckedReason } from "../../infra/verify/region.ts";
import { readSnapshotContent } from "../../infra/verify/snapshot-read-back.ts";
import type { AwsSession } from "../aws/session.ts";
import { readJson } from "../project/files.ts";
import { buildIdOf } from "../project/names.ts";
import { imageOutput } from "../project/outputs.ts";
import type { ReleaseManifest } from "../release/manifest.ts";
import { createProgress } from "../runner/progress.ts";
import type { TaskContext } from "../runner/task.ts";

export interface DeepResult {
	system: string;
	findings: Finding[];
	unchecked?: string;
	/** Blocks read back. */
	blocks: number;
	/** Whether the local nixos.img was compared too. */
	local: boolean;
	/** Why a local nixos.img was not compared (another build). */
	localSkipped?: string;
	/** What was read back (for --provenance, which compares the AMI statement with it). */
	readBack?: { blockIndexes: string; linearChecksum: string };
}

/**
 * The built disk image of `system` on this machine when it is this
 * release's build (image-info.json's SHA-256 gives the build id), else why
 * it is not compared: after a newer build, the image here is another one.
 */
function localImage(
	root: string,
	system: string,
	buildId: string,
): { path: string } | { skipped: string } | undefined {
	const output = imageOutput(root, "virtual-machine", system);
	const [disk, info] = output.files;
	if (disk === undefined || info === undefined || !existsSync(disk.path)) return undefined;
	let built: string | undefined;
	try {
		built = buildIdOf(String(readJson(info.path).sha256 ?? ""));
	} catch {}
	if (built !== buildId) {
		return {
			skipped: `the local nixos.img is ${built ? `build ${built}` : "of an unknown build"}, not ${buildId}: not compared`,
		};
	}
	return { path: disk.path };
}

/** Each system's source snapshot (`snapshots`: system → its id, as EC2 describes the source AMI). */
export async function checkSnapshotContents(
	context: TaskContext,
	session: AwsSession,
	manifest: ReleaseManifest,
	snapshots: ReadonlyMap<string, string>,
): Promise<DeepResult[]> {
	const results: DeepResult[] = [];
	// One system after the other: each read already keeps EBS busy with its own concurrency.
	for (const [system, release] of Object.entries(manifest.amis)) {
		const result: DeepResult = { system, findings: [], blocks: 0, local: false };
		results.push(result);
		const recorded = release.snapshotContent;
		const snapshotId = snapshots.get(system);
		if (recorded === undefined) {
			result.unchecked = `release.json records no snapshot content for ${system} (published by an older version): publish and release it again to check its bytes`;
			continue;
		}
		if (snapshotId === undefined) {
			result.unchecked = `the source AMI ${release.sourceImage.imageId} has no root snapshot to read (see its row)`;
			continue;
		}
		const base = { system, subject: `snapshot ${snapshotId} read back` };
		const progress = createProgress({ prefix: `${system}: reading ${snapshotId} back: ` });
		try {
			const read = await readSnapshotContent(session.calls, session.clients.ebs, snapshotId, {
				onBlock: (done, total) => progress.update(`${done} of ${total} blocks`),
			});
			progress.done();
			result.blocks = read.changedBlocks;
			result.readBack = { blockIndexes: read.blockIndexes, linearChecksum: read.linearChecksum };
			for (const block of read.badBlocks) {
				result.findings.push({
					...base,
					field: `block ${block}`,
					expected: "data matching its checksum",
					actual: "data that does not",
				});
			}
			compare(result.findings, base, "blocks with data", recorded.blockIndexes, read.blockIndexes);
			compare(
				result.findings,
				base,
				"LINEAR checksum",
				recorded.linearChecksum,
				read.linearChecksum,
			);
			const image = localImage(context.root, system, release.buildId);
			if (image !== undefined && "skipped" in image) result.localSkipped = image.skipped;
			if (image !== undefined && "path" in image) {
				result.local = true;
				const built = await localSnapshotContent(image.path, read.volumeSize);
				const local = { system, subject: `snapshot ${snapshotId} against the local nixos.img` };
				compare(result.findings, local, "blocks with data", built.blockIndexes, read.blockIndexes);
				compare(
					result.findings,
					local,
					"LINEAR checksum",
					built.linearChecksum,
					read.linearChecksum,
				);
			}
		} catch (error) {
			progress.done();
			result.unchecked = uncheckedReason(error);
		}
	}
	return results;
}
