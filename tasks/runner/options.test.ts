import { describe, expect, test } from "bun:test";
import { UsageError } from "./errors.ts";
import { describeDefault, type OptionSpecs, resolveOptions, usageOf } from "./options.ts";

const specs = {
	system: {
		type: "string",
		doc: "System.",
		choices: ["x86_64-linux", "aarch64-linux"],
		env: "system",
		default: { describe: "this host's system", resolve: () => "x86_64-linux" },
	},
	flake: { type: "string", doc: "Flake.", default: "." },
	kind: { type: "string", doc: "Kind." },
	loud: { type: "boolean", doc: "Loud.", env: "LOUD" },
} satisfies OptionSpecs;

describe("resolveOptions", () => {
	test("takes the command line over the environment over the default", () => {
		expect(
			resolveOptions(specs, { system: "aarch64-linux" }, { system: "x86_64-linux" }).system,
		).toBe("aarch64-linux");
		expect(resolveOptions(specs, {}, { system: "aarch64-linux" }).system).toBe("aarch64-linux");
		expect(resolveOptions(specs, {}, {}).system).toBe("x86_64-linux");
	});
	test("fills static defaults, leaves optional strings unset, booleans false", () => {
		expect(resolveOptions(specs, {}, {})).toEqual({
			system: "x86_64-linux",
			flake: ".",
			kind: undefined,
			loud: false,
		});
	});
	test("treats an empty variable as unset", () => {
		expect(resolveOptions(specs, {}, { system: "" }).system).toBe("x86_64-linux");
	});
	test("rejects a variable outside the choices, naming it", () => {
		expect(() => resolveOptions(specs, {}, { system: "x86_64-darwin" })).toThrow(
			'$system is "x86_64-darwin", which is not one of x86_64-linux, aarch64-linux; unset it or pass --system with one of them.',
		);
	});
	test("reads booleans from the environment", () => {
		expect(resolveOptions(specs, {}, { LOUD: "true" }).loud).toBe(true);
		expect(resolveOptions(specs, {}, { LOUD: "0" }).loud).toBe(false);
		expect(resolveOptions(specs, { loud: false }, { LOUD: "1" }).loud).toBe(false);
		expect(() => resolveOptions(specs, {}, { LOUD: "maybe" })).toThrow(UsageError);
	});
	test("lets a computed default refuse with its own message", () => {
		const refusing = {
			system: {
				type: "string",
				doc: "System.",
				default: {
					describe: "host",
					resolve: () => {
						throw new UsageError("pass --system");
					},
				},
			},
		} satisfies OptionSpecs;
		expect(() => resolveOptions(refusing, {}, {})).toThrow("pass --system");
		expect(resolveOptions(refusing, { system: "x" }, {}).system).toBe("x");
	});
});

describe("help text helpers", () => {
	test("usageOf shows the value placeholder for strings only", () => {
		expect(usageOf("system", specs.system)).toBe("--system <system>");
		expect(usageOf("loud", specs.loud)).toBe("--loud");
	});
	test("describeDefault names the variable first", () => {
		expect(describeDefault(specs.system)).toBe("$system, else this host's system");
		expect(describeDefault(specs.flake)).toBe('"."');
		expect(describeDefault(specs.kind)).toBeUndefined();
		expect(describeDefault(specs.loud)).toBe("$LOUD, else false");
	});
});
