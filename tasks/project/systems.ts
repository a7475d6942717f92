/**
 * The systems images are built for. The list lives once, in nix/systems.json,
 * read by the flake (builtins.fromJSON) and here.
 */
import systems from "../../nix/systems.json" with { type: "json" };
import { UsageError } from "../runner/errors.ts";

export const SYSTEMS: readonly string[] = systems;

const HOST_SYSTEMS: Record<string, string> = { x64: "x86_64-linux", arm64: "aarch64-linux" };

/** The Nix system of this machine, or a UsageError naming what to pass instead. */
export function hostSystem(
	platform: string = process.platform,
	arch: string = process.arch,
): string {
	const system = platform === "linux" ? HOST_SYSTEMS[arch] : undefined;
	if (system === undefined || !SYSTEMS.includes(system)) {
		throw new UsageError(
			`This host (${platform}/${arch}) is not one of the image systems, so --system has no default; pass --system with one of ${SYSTEMS.join(", ")}.`,
		);
	}
	return system;
}
