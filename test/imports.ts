/**
 * What a module imports, read from its source: packages by name, project
 * files as absolute paths; and the modules reachable from one through
 * relative imports. Enough for the layout and least-privilege tests, which
 * need to know what code a task or the CDK app can run.
 */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";

export interface Imports {
	/** Bare specifiers: `aws-cdk-lib/aws-iam`, `@aws-sdk/client-ec2` (node: built-ins left out). */
	packages: string[];
	/** Relative specifiers, resolved to absolute paths (type-only imports left out: they load nothing). */
	files: string[];
	/** `{ A, B as C, type D }` of each package import, by package. */
	names: Map<string, string[]>;
}

const STATIC = /(?:^|\n)\s*(?:import|export)\s+(?:([^"';]*?)\s*from\s*)?"([^"]+)"/g;
const DYNAMIC = /import\(\s*"([^"]+)"\s*\)/g;

export function importsOf(path: string): Imports {
	const source = readFileSync(path, "utf8");
	const found: { clause: string; specifier: string }[] = [
		...[...source.matchAll(STATIC)].map((m) => ({ clause: m[1] ?? "", specifier: m[2] as string })),
		...[...source.matchAll(DYNAMIC)].map((m) => ({ clause: "", specifier: m[1] as string })),
	];
	const packages: string[] = [];
	const files: string[] = [];
	const names = new Map<string, string[]>();
	for (const { clause, specifier } of found) {
		// `import type { … }` loads nothing at run time.
		if (/^type\s/.test(clause)) continue;
		if (specifier.startsWith(".")) {
			files.push(resolve(dirname(path), specifier));
		} else if (!specifier.startsWith("node:") && !specifier.startsWith("bun:")) {
			packages.push(specifier);
			const braces = clause.match(/\{([^}]*)\}/)?.[1] ?? "";
			const listed = braces
				.split(",")
				.map(
					(name) =>
						name
							.trim()
							.replace(/^type\s+/, "")
							.split(/\s+as\s+/)[0] ?? "",
				)
				.filter(Boolean);
			names.set(specifier, [...(names.get(specifier) ?? []), ...listed]);
		}
	}
	return { packages, files, names };
}

/** Every project module reachable from `entries` through relative imports (tests never are). */
export function reachableFrom(entries: readonly string[]): Map<string, Imports> {
	const seen = new Map<string, Imports>();
	const visit = (path: string) => {
		if (seen.has(path) || !path.endsWith(".ts")) return;
		const imports = importsOf(path);
		seen.set(path, imports);
		for (const file of imports.files) visit(file);
	};
	for (const entry of entries) visit(entry);
	return seen;
}
