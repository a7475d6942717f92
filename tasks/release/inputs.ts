/**
 * What `release` works from: the records publish left beside each image
 * (ami.json, container.json), so it runs on a machine that holds no image.
 */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { readJson } from "../project/files.ts";
import { publishOutput } from "../project/outputs.ts";
import { systems } from "../project/systems.ts";
import type { AmiRecord } from "../publish/ami.ts";
import type { ContainerRecord } from "../publish/container.ts";
import { TaskError } from "../runner/errors.ts";

export interface Published {
	amis: AmiRecord[];
	containers: ContainerRecord[];
}

const AMI_FIELDS = ["buildId", "system", "label", "region", "imageId", "imageName"] as const;
const CONTAINER_FIELDS = [
	"buildId",
	"system",
	"architecture",
	"repositoryUri",
	"tag",
	"digest",
	"nixVersion",
] as const;

function read<T>(root: string, path: string, fields: readonly string[], system: string): T {
	const record = readJson(path);
	const missing = fields.filter(
		(field) => typeof record[field] !== "string" || record[field] === "",
	);
	if (missing.length > 0 || record.system !== system) {
		throw new TaskError(
			`${relative(root, path)} is not a record publish wrote for ${system} (${missing.length > 0 ? `no ${missing.join(", ")}` : `system ${record.system}`}); run \`bun task publish --system ${system}\` again.`,
		);
	}
	return record as T;
}

/**
 * What the records leave out, per system of nix/systems.json: "aarch64-linux
 * (no ami.json, no container.json)". In the pipeline, the systems whose images
 * job failed or did not publish.
 */
export function missingRecords(published: Published): string[] {
	return systems().flatMap((system) => {
		const lacks = [
			!published.amis.some((ami) => ami.system === system) && "no ami.json",
			!published.containers.some((container) => container.system === system) && "no container.json",
		].filter(Boolean);
		return lacks.length > 0 ? [`${system} (${lacks.join(", ")})`] : [];
	});
}

/** Every ami.json and container.json there is, for the systems of nix/systems.json. */
export function readPublished(root: string): Published {
	const published: Published = { amis: [], containers: [] };
	for (const system of systems()) {
		const ami = publishOutput(root, "virtual-machine", system).result;
		if (existsSync(ami)) published.amis.push(read<AmiRecord>(root, ami, AMI_FIELDS, system));
		const container = publishOutput(root, "oci-container", system).result;
		if (existsSync(container)) {
			published.containers.push(read<ContainerRecord>(root, container, CONTAINER_FIELDS, system));
		}
	}
	if (published.amis.length === 0 && published.containers.length === 0) {
		throw new TaskError(
			"Nothing is published yet: no outputs/main/virtual-machine/*/ami.json or outputs/main/oci-container/*/container.json; run `bun task publish` on each system's machine first (in CI, download their results here).",
		);
	}
	return published;
}
