import { buildImage } from "./build-image.ts";
import type { BuildOptions } from "./catalog.ts";
import type { TaskContext } from "./runner/task.ts";

export default async function ociContainer(context: TaskContext<BuildOptions>) {
	await buildImage(context, "oci-container");
}
