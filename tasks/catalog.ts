/**
 * Every task, in the order `bun task --list` shows them: name, doc, options,
 * dependencies, and a lazy import of the body (the bb.edn of this project).
 * The first line of a doc is its --list summary; the rest shows in --help.
 */
import { OUTPUT_KINDS } from "./outputs.ts";
import type { OptionValues } from "./runner/options.ts";
import { type Catalog, defineTask } from "./runner/task.ts";
import { systemFilterOption } from "./systems.ts";

const cleanOptions = {
	kind: {
		type: "string",
		doc: "Only this kind of output.",
		choices: OUTPUT_KINDS,
		placeholder: "kind",
	},
	system: systemFilterOption,
} as const;
export type CleanOptions = OptionValues<typeof cleanOptions>;

export const catalog: Catalog = {
	clean: defineTask({
		doc: `Delete generated outputs: all of outputs/, or only one kind and/or system of it.
Nothing outside outputs/ is touched. Removing an image link also drops its Nix GC root,
so the next \`nix-collect-garbage\` may free the image.`,
		options: cleanOptions,
		load: () => import("./clean.ts"),
	}),
	analyze: defineTask({
		doc: `Format and lint everything: Biome (with fixes), tsc --noEmit, and the Nix files.
Nix files are formatted with \`nix fmt\` where the flake has a formatter and Nix can fetch it;
otherwise every tracked .nix file is syntax-checked with \`nix-instantiate --parse\`.
Without nix on PATH the Nix part is skipped and reported, and the TypeScript checks still run.`,
		load: () => import("./analyze.ts"),
	}),
};
