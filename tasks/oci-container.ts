import { buildImage } from "./nix/build-image.ts";
import type { BuildOptions } from "./project/options.ts";
import type { TaskContext } from "./runner/task.ts";
import { sbomAfterBuild } from "./sbom/image.ts";

export default async function ociContainer(context: TaskContext<BuildOptions>) {
	await buildImage(context, "oci-container");
	// Part of the build, so the SBOM beside an image always describes that image.
	await sbomAfterBuild(context, "oci-container");
}
