/**
 * One measured upload for `bun run bench publish`: ensureSnapshot of an image
 * through the real SDK to the sink at $SINK_URL, as publish runs it. Prints
 * JSON: seconds and bytes sent. With a state file (third argument) it keeps
 * its state there as publish keeps publish-state.json, so a killed upload
 * resumes; with UPLOAD_PROGRESS set it prints the blocks sent as they go.
 */
import { existsSync, openSync, readFileSync } from "node:fs";
import { ensureSnapshot, type SnapshotState } from "../../infra/publish/snapshot.ts";
import { AwsCalls } from "../../infra/sdk/calls.ts";
import { RetryBudget } from "../../infra/sdk/retry.ts";
import { closeClients } from "../../tasks/aws/clients.ts";
import { writeJsonAtomically } from "../../tasks/project/files.ts";
import { standInClients } from "../../test/aws/clients.ts";

const [imagePath = "", buildId = "", stateFile] = Bun.argv.slice(2);
const url = process.env.SINK_URL ?? "";
const clients = standInClients({
	url,
	env: { AWS_ACCESS_KEY_ID: "AKIABENCH", AWS_SECRET_ACCESS_KEY: "bench" },
} as never);
const state: SnapshotState =
	stateFile && existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, "utf8")) : {};
const started = performance.now();
const result = await ensureSnapshot({
	calls: new AwsCalls(new RetryBudget(), false, () => {}),
	ebs: clients.ebs,
	ec2: clients.ec2,
	imageFd: openSync(imagePath, "r"),
	sizeBytes: Bun.file(imagePath).size,
	buildId,
	description: "bench",
	tags: { ManagedBy: "nix-images", BuildId: buildId, System: "x86_64-linux" },
	state,
	saveState: (next) => {
		if (stateFile) writeJsonAtomically(stateFile, next, 0o600);
	},
	onProgress: process.env.UPLOAD_PROGRESS
		? (progress) => {
				if (progress.blocksSent % 32 === 0) process.stderr.write(`sent ${progress.blocksSent}\n`);
			}
		: undefined,
});
closeClients(Object.values(clients));
console.log(
	JSON.stringify({
		seconds: (performance.now() - started) / 1000,
		bytesSent: result.progress.bytesSent,
		blocksSent: result.progress.blocksSent,
		blocksResumed: result.progress.blocksResumed,
	}),
);
