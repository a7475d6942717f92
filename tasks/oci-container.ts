import { buildImage } from "./nix/build-image.ts";
import type { BuildOptions } from "./project/options.ts";
import type { TaskContext } from "./runner/task.ts";

export default async function ociContainer(context: TaskContext<BuildOptions>) {
	await buildImage(context, "oci-container");
}
