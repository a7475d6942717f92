/**
 * The container part of `publish`: this system's image → ECR Public under one
 * immutable tag per build and architecture, pushed with skopeo from the OCI
 * layout the build made, so the registry serves the build's own digest;
 * container.json is written beside the image, last.
 */
import { relative } from "node:path";
import type { AwsCalls } from "../../infra/sdk/calls.ts";
import { repositoryUri } from "../../infra/sdk/ecr-public.ts";
import type { StackOutputs } from "../../infra/sdk/stack-outputs.ts";
import { SYSTEM_ARCHITECTURES, type System } from "../../infra/vocabulary.ts";
import type { PublishClients } from "../aws/clients.ts";
import { writeJsonAtomically } from "../project/files.ts";
import { buildIdOf, containerTag } from "../project/names.ts";
import { type OciImage, readOciImage } from "../project/oci-layout.ts";
import { publishOutput } from "../project/outputs.ts";
import { TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import { registryFiles } from "../skopeo/auth.ts";
import { pushLayout, requireSkopeo, servedDigest } from "../skopeo/cli.ts";

/** What container.json records: enough for `release` to join the architectures on a machine without images. */
export interface ContainerRecord {
	buildId: string;
	system: string;
	architecture: string;
	repositoryUri: string;
	tag: string;
	digest: string;
	mediaType: string;
	size: number;
	nixVersion: string;
	configDigest: string;
}

/** What the container part publishes, checked before anything of any part is uploaded. */
export interface ContainerPlan {
	system: System;
	architecture: string;
	output: ReturnType<typeof publishOutput>;
	image: OciImage;
	buildId: string;
	/** `<nix version>-<build id>-<architecture>`: immutable, one per build and architecture. */
	tag: string;
}

/** Checks skopeo and the image (one of this architecture), and locks its outputs. */
export function prepareContainer(context: TaskContext<{ system: string }>): ContainerPlan {
	const { options, root, lock } = context;
	const system = options.system as System;
	const architecture = SYSTEM_ARCHITECTURES[system].oci;
	requireSkopeo();
	const output = publishOutput(root, "oci-container", system);
	lock(output.dir);
	const image = readOciImage(root, system, architecture);
	// The build id comes from the image's content: its manifest digest.
	const buildId = buildIdOf(image.digest);
	const tag = containerTag(image.refName, buildId, architecture);
	return { system, architecture, output, image, buildId, tag };
}

/**
 * The container part, idempotent on its immutable tag
 * `<nix version>-<build id>-<arch>` and the digest it serves: a tag already
 * serving the build's digest is left alone; container.json is written last.
 */
export async function publishContainer(
	plan: ContainerPlan,
	context: TaskContext<{ system: string }>,
	clients: PublishClients,
	calls: AwsCalls,
	stack: StackOutputs,
	stackName: string,
): Promise<ContainerRecord | undefined> {
	const { root, dryRun, log, $ } = context;
	const { system, architecture, output, image, buildId, tag } = plan;

	const uri = await repositoryUri(calls, clients.ecrPublic, stack.RepositoryName, stackName);
	const files = await registryFiles(context, calls, clients.ecrPublic, uri);
	const reference = `docker://${uri}:${tag}`;
	log(
		`build ${buildId}: ${relative(root, `${output.dir}/oci-layout`)}, ${architecture}, ${image.digest}.`,
	);

	const served = await servedDigest($, reference, files);
	if (served === image.digest) {
		log(`${uri}:${tag} already serves ${image.digest}: nothing pushed.`);
	} else if (served !== undefined) {
		throw new TaskError(
			`${uri}:${tag} serves ${served}, not this build's ${image.digest}, although the tag names this build; delete that tag from the repository and run the task again.`,
		);
	} else {
		await pushLayout($, image.layout, image.refName, reference, files);
		if (dryRun) return undefined;
		const pushed = await servedDigest($, reference, files);
		if (pushed !== image.digest) {
			throw new TaskError(
				`After the push ${uri}:${tag} serves ${pushed ?? "nothing"}, not ${image.digest}; run the task again.`,
			);
		}
		log(`pushed ${uri}:${tag} (${image.digest}).`);
	}
	if (dryRun) return undefined;

	const record: ContainerRecord = {
		buildId,
		system,
		architecture,
		repositoryUri: uri,
		tag,
		digest: image.digest,
		mediaType: image.mediaType,
		size: image.size,
		nixVersion: image.refName,
		configDigest: image.configDigest,
	};
	writeJsonAtomically(output.result, record);
	log(`wrote ${relative(root, output.result)}.`);
	return record;
}
