/** The boot marker's fixed text: one definition (nix/boot-marker.json), read by the image, the KVM check and the smoke test. */
import { readFileSync } from "node:fs";
import { TaskError } from "../runner/errors.ts";

export function bootMarker(root: string): string {
	const path = `${root}/nix/boot-marker.json`;
	try {
		const marker = JSON.parse(readFileSync(path, "utf8"));
		if (typeof marker === "string" && marker.length > 0) return marker;
	} catch {}
	throw new TaskError(
		`${path} should hold the boot marker as a JSON string; restore it and run the task again.`,
	);
}
