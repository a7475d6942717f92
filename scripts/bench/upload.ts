/**
 * One measured upload for `bun run bench publish`: ensureSnapshot of an image
 * through the real SDK to the sink at $SINK_URL, as publish runs it. Prints
 * JSON: seconds and bytes sent.
 */

import { openSync } from "node:fs";
import { ensureSnapshot } from "../../infra/publish/snapshot.ts";
import { AwsCalls } from "../../infra/sdk/calls.ts";
import { RetryBudget } from "../../infra/sdk/retry.ts";
import { closeClients } from "../../tasks/aws/clients.ts";
import { standInClients } from "../../test/aws/clients.ts";

const [imagePath = "", buildId = ""] = Bun.argv.slice(2);
const url = process.env.SINK_URL ?? "";
const clients = standInClients({
	url,
	env: { AWS_ACCESS_KEY_ID: "AKIABENCH", AWS_SECRET_ACCESS_KEY: "bench" },
} as never);
const started = performance.now();
const result = await ensureSnapshot({
	calls: new AwsCalls(new RetryBudget(), false, () => {}),
	ebs: clients.ebs,
	ec2: clients.ec2,
	imageFd: openSync(imagePath, "r"),
	sizeBytes: Bun.file(imagePath).size,
	buildId,
	description: "bench",
	tags: { BuildId: buildId, System: "x86_64-linux" },
	state: {},
	saveState: () => {},
});
closeClients(Object.values(clients));
console.log(
	JSON.stringify({
		seconds: (performance.now() - started) / 1000,
		bytesSent: result.progress.bytesSent,
	}),
);
