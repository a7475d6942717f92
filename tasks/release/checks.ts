/**
 * The records release works from (ami.json, container.json) reach it from
 * other jobs, which run the builds' code: each is checked against AWS and
 * the registry before anything changes, and only what was checked goes on
 * (into the distribution, the index, release.json and the page). Any
 * disagreement is one sentence naming the record, the fields, what AWS or
 * the registry says, and to publish again. Only reads.
 */
import { relative } from "node:path";
import type { SnapshotContent } from "../../infra/publish/snapshot-content.ts";
import { currentBuild } from "../../infra/release/current-build.ts";
import { checkSourceImage, type Mismatch } from "../../infra/release/source-image.ts";
import { repositoryUri } from "../../infra/sdk/ecr-public.ts";
import { systemOutput } from "../../infra/sdk/stack-outputs.ts";
import {
	HOME_REGION,
	IMAGE_SHA256_TAG,
	SYSTEM_ARCHITECTURES,
	type System,
} from "../../infra/vocabulary.ts";
import type { AwsSession } from "../aws/session.ts";
import { amiName, buildIdOf, containerTag, labelOf } from "../project/names.ts";
import { publishOutput } from "../project/outputs.ts";
import type { AmiRecord } from "../publish/ami.ts";
import type { ContainerRecord } from "../publish/container.ts";
import { TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import type { SkopeoFiles } from "../skopeo/auth.ts";
import { servedConfig, servedDigest } from "../skopeo/cli.ts";
import type { ReleaseManifest } from "./manifest.ts";
import { isSnapshotContent } from "./manifest-check.ts";

/** An AMI as release goes on with it: every field from EC2, none from the record alone. */
export interface CheckedAmi {
	system: System;
	buildId: string;
	label: string;
	imageId: string;
	imageName: string;
	snapshotId: string;
	/** When publish registered it: the build's date. */
	createdAt: string;
	/** The disk image's SHA-256, read from the AMI's ImageSha256 tag (equal to ami.json's): release puts it on every copy. */
	imageSha256: string;
	/** What publish recorded of the snapshot's content (carried into release.json for `verify --deep`, which checks it). */
	snapshotContent?: SnapshotContent;
}

/** A container image as release goes on with it: what the stack's registry serves. */
export interface CheckedContainer {
	system: System;
	buildId: string;
	architecture: string;
	tag: string;
	digest: string;
	nixVersion: string;
}

/** A recorded value as a sentence shows it: quoted, short, never more of a hostile file than that. */
function shown(value: unknown): string {
	const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
	return JSON.stringify(text.length > 80 ? `${text.slice(0, 77)}…` : text);
}

function refusal(
	root: string,
	path: string,
	system: string,
	against: string,
	mismatches: readonly Mismatch[],
) {
	const fields = mismatches
		.map((m) => `${m.field} ${shown(m.recorded)} (${against}: ${m.actual})`)
		.join("; ");
	return new TaskError(
		`${relative(root, path)} disagrees with ${against}: ${fields}; publish it again (\`bun task publish --system ${system}\`) and release. Nothing was released.`,
	);
}

/** Each ami.json against the AMI and its snapshot in the home region. */
export async function checkAmiRecords(
	root: string,
	{ clients, calls }: AwsSession,
	records: readonly AmiRecord[],
): Promise<CheckedAmi[]> {
	return Promise.all(
		records.map(async (record) => {
			const system = record.system as System;
			const path = publishOutput(root, "virtual-machine", system).result;
			const derived: Mismatch[] = [];
			if (record.snapshotContent !== undefined && !isSnapshotContent(record.snapshotContent)) {
				derived.push({
					field: "snapshotContent",
					recorded: "(as recorded)",
					actual: "not what publish records (block ranges, count, a SHA-256)",
				});
			}
			if (!/^[0-9a-f]{64}$/.test(String(record.sha256 ?? ""))) {
				derived.push({
					field: "sha256",
					recorded: String(record.sha256),
					actual: "not a SHA-256 (64 hex digits)",
				});
			} else if (buildIdOf(String(record.sha256 ?? "")) !== record.buildId) {
				derived.push({
					field: "buildId",
					recorded: record.buildId,
					actual: `publish derives it from sha256 ${shown(record.sha256)}`,
				});
			}
			const checked = await checkSourceImage(calls, clients.ec2, {
				system,
				buildId: record.buildId,
				region: record.region,
				imageId: record.imageId,
				name: amiName(record.label, system, record.buildId),
				snapshotId: record.snapshotId,
				sha256: String(record.sha256),
			});
			if ("gone" in checked) {
				throw new TaskError(
					`The AMI ${record.imageId} that ${relative(root, path)} names is gone; publish it again (\`bun task publish --system ${system}\`) and release.`,
				);
			}
			if ("untagged" in checked && derived.length === 0) {
				throw new TaskError(
					`The AMI ${record.imageId} that ${relative(root, path)} names has no ${IMAGE_SHA256_TAG} tag (a publish older than that tag registered it, and no role may add it to an existing AMI); deregister it (\`aws ec2 deregister-image --region ${HOME_REGION} --image-id ${record.imageId}\`), publish again (\`bun task publish --system ${system}\`) and release. Nothing was released.`,
				);
			}
			const mismatches = [
				...derived,
				...("mismatches" in checked ? checked.mismatches : []),
				...("untagged" in checked
					? [
							{
								field: `AMI tag ${IMAGE_SHA256_TAG}`,
								recorded: String(record.sha256),
								actual: "(none)",
							},
						]
					: []),
			];
			if (!("image" in checked) || mismatches.length > 0) {
				throw refusal(root, path, system, "AWS", mismatches);
			}
			const { image } = checked;
			return {
				system,
				buildId: image.buildId,
				label: labelOf(image.name, system, image.buildId) ?? record.label,
				imageId: image.imageId,
				imageName: image.name,
				snapshotId: image.snapshotId,
				createdAt: image.createdAt,
				imageSha256: image.imageSha256,
				...(record.snapshotContent ? { snapshotContent: record.snapshotContent } : {}),
			};
		}),
	);
}

/** A Nix version as tags carry it. */
const NIX_VERSION = /^[0-9][\w.+-]{0,63}$/;

/**
 * Each container.json against the stack's repository (no other registry is
 * ever contacted): its tag serves the recorded digest, whose configuration
 * is of the system's platform, and the build id and tag are those publish
 * derives from the digest and the Nix version.
 */
export async function checkContainerRecords(
	context: TaskContext,
	repository: string,
	files: SkopeoFiles,
	records: readonly ContainerRecord[],
): Promise<CheckedContainer[]> {
	const checked: CheckedContainer[] = [];
	for (const record of records) {
		const system = record.system as System;
		const path = publishOutput(context.root, "oci-container", system).result;
		const architecture = SYSTEM_ARCHITECTURES[system].oci;
		const mismatches: Mismatch[] = [];
		const differ = (field: string, recorded: unknown, actual: string, ok: boolean) => {
			if (!ok) mismatches.push({ field, recorded: String(recorded), actual });
		};
		differ(
			"repositoryUri",
			record.repositoryUri,
			`the stack's repository is ${repository}`,
			record.repositoryUri === repository,
		);
		differ(
			"architecture",
			record.architecture,
			`${system} is ${architecture}`,
			record.architecture === architecture,
		);
		differ(
			"nixVersion",
			record.nixVersion,
			"not a Nix version",
			NIX_VERSION.test(record.nixVersion),
		);
		differ(
			"digest",
			record.digest,
			"not a sha256 digest",
			/^sha256:[0-9a-f]{64}$/.test(record.digest),
		);
		differ(
			"buildId",
			record.buildId,
			`publish derives ${buildIdOf(record.digest)} from the digest`,
			record.buildId === buildIdOf(record.digest),
		);
		const tag = containerTag(record.nixVersion, buildIdOf(record.digest), architecture);
		differ("tag", record.tag, `publish names it ${tag}`, record.tag === tag);
		if (mismatches.length === 0) {
			const served = await servedDigest(context.$, `docker://${repository}:${tag}`, files);
			differ(
				"digest",
				record.digest,
				`${repository}:${tag} serves ${served ?? "nothing"}`,
				served === record.digest,
			);
		}
		if (mismatches.length === 0) {
			const config = await servedConfig(
				context.$,
				`docker://${repository}@${record.digest}`,
				files,
			);
			const platform = `${config.os}/${config.architecture}`;
			differ(
				"platform",
				`linux/${record.architecture}`,
				`the image's configuration says ${platform}`,
				platform === `linux/${architecture}`,
			);
		}
		if (mismatches.length > 0)
			throw refusal(context.root, path, system, "the registry", mismatches);
		checked.push({
			system,
			buildId: buildIdOf(record.digest),
			architecture,
			tag,
			digest: record.digest,
			nixVersion: record.nixVersion,
		});
	}
	return checked;
}

/** The stack's repository URI, for the checks and everything release pushes: never a record's. */
export function stackRepository({ clients, calls, stack }: AwsSession, stackName: string) {
	return repositoryUri(calls, clients.ecrPublic, stack.RepositoryName, stackName);
}

/**
 * Refuses AMIs of builds older than the ones users get now (by when each was
 * registered), unless `allowOlder`: a record of an older genuine build would
 * otherwise move the SSM parameters and latest back to it. What users get
 * now: the current release.json where there is one, else the stack's SSM
 * parameter in the home region.
 */
export async function requireNotOlder(
	context: TaskContext,
	session: AwsSession,
	amis: readonly CheckedAmi[],
	current: ReleaseManifest | undefined,
	allowOlder: boolean,
): Promise<void> {
	const older: string[] = [];
	await Promise.all(
		amis.map(async (ami) => {
			const released = current?.amis[ami.system];
			const now =
				released?.builtAt !== undefined
					? { buildId: released.buildId, createdAt: released.builtAt }
					: await currentBuild(
							session.calls,
							session.clients.ec2,
							session.clients.ssm,
							systemOutput(session.stack, "AmiParameterNames", ami.system),
						);
			if (now === undefined || now.buildId === ami.buildId) return;
			if (Date.parse(ami.createdAt) < Date.parse(now.createdAt)) {
				older.push(
					`${ami.system} build ${ami.buildId} (published ${ami.createdAt}) is older than the released build ${now.buildId ?? "(unknown)"} (published ${now.createdAt})`,
				);
			}
		}),
	);
	if (older.length === 0) return;
	if (allowOlder) {
		context.log(`releasing older builds (--allow-older): ${older.join("; ")}.`);
		return;
	}
	throw new TaskError(
		`${older.join("; ")}: releasing it would move users back to it; publish a newer build, or release it anyway with --allow-older. Nothing was released.`,
	);
}
