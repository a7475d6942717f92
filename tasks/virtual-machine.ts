import { buildImage } from "./nix/build-image.ts";
import type { BuildOptions } from "./project/options.ts";
import type { TaskContext } from "./runner/task.ts";
import { sbomAfterBuild } from "./sbom/image.ts";

export default async function virtualMachine(context: TaskContext<BuildOptions>) {
	await buildImage(context, "virtual-machine");
	// Part of the build, so the SBOM beside an image always describes that image.
	await sbomAfterBuild(context, "virtual-machine");
}
