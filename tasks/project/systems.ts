/**
 * The systems images are built for. The list lives once, in nix/systems.json,
 * read by the flake (builtins.fromJSON) and here, only when a task needs it:
 * listing and help work whatever state the file is in.
 */
import { TaskError, UsageError } from "../runner/errors.ts";

const FILE = "nix/systems.json";
const SYSTEM = /^[a-z0-9_]+-linux$/;

let cache: readonly string[] | undefined;

/** What is wrong with the file's content, or undefined when it is a good list of systems. */
export function systemsProblem(content: unknown): string | undefined {
	if (!Array.isArray(content) || content.length === 0) return "is not a non-empty list";
	const bad = content.find((system) => typeof system !== "string" || !SYSTEM.test(system));
	if (bad !== undefined) return `lists ${JSON.stringify(bad)}, which is not a Linux Nix system`;
	if (new Set(content).size !== content.length) return "lists a system twice";
	return undefined;
}

/** The systems of nix/systems.json, or a TaskError saying what is wrong with the file. */
export function systems(): readonly string[] {
	if (cache !== undefined) return cache;
	// Loaded here, not at the top: listing and help must not pay for node:fs.
	const { readFileSync } = require("node:fs") as typeof import("node:fs");
	const fix = `fix it (a JSON list such as ["x86_64-linux", "aarch64-linux"]) and run the task again`;
	let content: unknown;
	try {
		content = JSON.parse(readFileSync(`${import.meta.dir}/../../${FILE}`, "utf8"));
	} catch (error) {
		const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
		throw new TaskError(`${FILE} cannot be read as JSON (${reason}); ${fix}.`);
	}
	const problem = systemsProblem(content);
	if (problem !== undefined) throw new TaskError(`${FILE} ${problem}; ${fix}.`);
	cache = content as string[];
	return cache;
}

const HOST_SYSTEMS: Record<string, string> = { x64: "x86_64-linux", arm64: "aarch64-linux" };

/** The Nix system of this machine, or a UsageError naming what to pass instead. */
export function hostSystem(
	platform: string = process.platform,
	arch: string = process.arch,
): string {
	const system = platform === "linux" ? HOST_SYSTEMS[arch] : undefined;
	if (system === undefined || !systems().includes(system)) {
		throw new UsageError(
			`This host (${platform}/${arch}) is not one of the image systems, so --system has no default; pass --system with one of ${systems().join(", ")}.`,
		);
	}
	return system;
}
