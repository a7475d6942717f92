import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, readdirSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { tempDir } from "../../test/helpers.ts";
import { TaskError } from "../runner/errors.ts";
import { linkAtomically, readJson } from "./files.ts";

const dir = tempDir("files");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("linkAtomically", () => {
	test("replaces a link in one rename", () => {
		linkAtomically("first", join(dir, "link"));
		linkAtomically("second", join(dir, "link"));
		expect(readlinkSync(join(dir, "link"))).toBe("second");
	});
	test("a failed swap leaves no temporary link behind", () => {
		mkdirSync(join(dir, "occupied/inside"), { recursive: true });
		expect(() => linkAtomically("target", join(dir, "occupied"))).toThrow();
		expect(readdirSync(dir).sort()).toEqual(["link", "occupied"]);
	});
});

describe("readJson", () => {
	test("says a file is missing, or not valid JSON, naming it", () => {
		expect(() => readJson(join(dir, "absent.json"))).toThrow(
			`${join(dir, "absent.json")} is missing; restore it`,
		);
		writeFileSync(join(dir, "bad.json"), "{");
		expect(() => readJson(join(dir, "bad.json"))).toThrow(TaskError);
		expect(() => readJson(join(dir, "bad.json"))).toThrow("is not valid JSON");
	});
});
