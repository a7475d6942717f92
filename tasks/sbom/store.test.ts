import { describe, expect, test } from "bun:test";
import { jsonFormatArguments, PathInfoError, parsePathInfo } from "./store.ts";

const STORE = "/nix/store";
const BASH = "5h0ziygcanfbscxd8irpwhidfz61s953-bash-interactive-5.2p37";
const GLIBC = "7yyy043df7qk3hjh6r2gcjwhxghc0zis-glibc-2.40-66-bin";
const NIX = "h4l74phanx83p96bqjry2vas7fng0mdp-nix-2.31.2";
const path = (baseName: string) => `${STORE}/${baseName}`;

/** Recorded on this project's machine: Debian's Nix 2.8.0, `nix path-info --json --recursive` of the fixture's nix. */
const NIX_2_8 = [
	{
		path: path(BASH),
		narHash: "sha256-ksMWVvqs9IYhhtSbB/g0FIW8Js0c5Pn8DKGw4cQ4XgE=",
		narSize: 424,
		references: [path(BASH), path(GLIBC)],
		deriver: "/nix/store/zxh28b794amlxjkgkyc3j42na2fpqm34-bash-interactive-5.2p37.drv",
		registrationTime: 1796207440,
		ultimate: true,
	},
	{
		path: path(GLIBC),
		narHash: "sha256-X2n51f9qe/B9GN5C5fJi2hyN7AodqJ67fZ/nd6Rgjnk=",
		narSize: 352,
		references: [path(GLIBC)],
		deriver: "/nix/store/nhaikfw7q8kq17s962ypd4s4afsy6hg7-glibc-2.40-66-bin.drv",
		registrationTime: 1796207440,
		ultimate: true,
	},
	{
		path: path(NIX),
		narHash: "sha256-1trSSaJsO++jyS68irRTPTfqT3qFtA7Oi7xUaU1Nri0=",
		narSize: 480,
		references: [path(BASH), path(GLIBC), path(NIX)],
		deriver: "/nix/store/l4km0zkks4ss3z9ldhpp8jvjakzzhgbr-nix-2.31.2.drv",
		registrationTime: 1796207440,
		ultimate: true,
	},
];

const EXPECTED = [
	{
		path: path(BASH),
		narHash: "92c31656faacf4862186d49b07f8341485bc26cd1ce4f9fc0ca1b0e1c4385e01",
		references: [path(BASH), path(GLIBC)],
	},
	{
		path: path(GLIBC),
		narHash: "5f69f9d5ff6a7bf07d18de42e5f262da1c8dec0a1da89ebb7d9fe777a4608e79",
		references: [path(GLIBC)],
	},
	{
		path: path(NIX),
		narHash: "d6dad249a26c3befa3c92ebc8ab4533d37ea4f7a85b40ece8bbc54694d4dae2d",
		references: [path(BASH), path(GLIBC), path(NIX)],
	},
];

// Current Nix (NixOS/nix 88b09c64, 2.36): the store objects of its own test data
// (src/libstore-tests/data/path-info/json-{1,2}/impure.json and empty_impure.json),
// keyed as src/nix/path-info.cc keys them.
const BAR = "g1w7hy3qg1w7hy3qg1w7hy3qg1w7hy3q-bar";
const FOO = "n5wkd9frr45pa74if5gpz9j7mifg27fh-foo";
const SIGNATURES = [
	"asdf:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
	"qwer:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
];

/** `nix path-info --json --json-format 1 --recursive` (and plain --json from Nix 2.19): keyed by store path. */
const FORMAT_1 = {
	[path(BAR)]: {
		ca: "fixed:r:sha256:1lr187v6dck1rjh2j6svpikcfz53wyl3qrlcbb405zlh13x0khhh",
		deriver: `/nix/store/${BAR}.drv`,
		narHash: "sha256-FePFYIlMuycIXPZbWi7LGEiMmZSX9FMbaQenWBzm1Sc=",
		narSize: 34878,
		references: [path(BAR), path(FOO)],
		registrationTime: 23423,
		signatures: SIGNATURES,
		storeDir: "/nix/store",
		ultimate: true,
		version: 1,
	},
	[path(FOO)]: {
		ca: null,
		deriver: null,
		narHash: "sha256-FePFYIlMuycIXPZbWi7LGEiMmZSX9FMbaQenWBzm1Sc=",
		narSize: 0,
		references: [],
		registrationTime: null,
		signatures: [],
		storeDir: "/nix/store",
		ultimate: false,
		version: 1,
	},
};

/** `nix path-info --json --json-format 2 --recursive` (Nix 2.33 on): wrapped, keyed by base name. */
const FORMAT_2 = {
	version: 2,
	storeDir: "/nix/store",
	info: {
		[BAR]: {
			ca: { hash: "sha256-EMIJ+giQ/gLIWoxmPKjno3zHZrxbGymgzGGyZvZBIdM=", method: "nar" },
			deriver: `${BAR}.drv`,
			narHash: "sha256-FePFYIlMuycIXPZbWi7LGEiMmZSX9FMbaQenWBzm1Sc=",
			narSize: 34878,
			references: [BAR, FOO],
			registrationTime: 23423,
			signatures: SIGNATURES,
			storeDir: "/nix/store",
			ultimate: true,
			version: 2,
		},
		[FOO]: {
			ca: null,
			deriver: null,
			narHash: "sha256-FePFYIlMuycIXPZbWi7LGEiMmZSX9FMbaQenWBzm1Sc=",
			narSize: 0,
			references: [],
			registrationTime: null,
			signatures: [],
			storeDir: "/nix/store",
			ultimate: false,
			version: 2,
		},
	},
};

const CURRENT = [
	{
		path: path(BAR),
		narHash: "15e3c560894cbb27085cf65b5a2ecb18488c999497f4531b6907a7581ce6d527",
		references: [path(BAR), path(FOO)],
	},
	{
		path: path(FOO),
		narHash: "15e3c560894cbb27085cf65b5a2ecb18488c999497f4531b6907a7581ce6d527",
		references: [],
	},
];

describe("parsePathInfo", () => {
	test("reads Nix 2.8's list", () => {
		expect(parsePathInfo(NIX_2_8)).toEqual(EXPECTED);
	});
	test("reads the object keyed by store path (Nix 2.19 on, --json-format 1)", () => {
		expect(parsePathInfo(FORMAT_1)).toEqual(CURRENT);
	});
	test("reads --json-format 2, with base names and storeDir", () => {
		expect(parsePathInfo(FORMAT_2)).toEqual(CURRENT);
		// --json-format 3 changes only the signatures.
		expect(parsePathInfo({ ...FORMAT_2, version: 3 })).toEqual(CURRENT);
	});
	test("reads a structured NAR hash, as the format 2 proposal printed it", () => {
		const structured = structuredClone(FORMAT_2);
		structured.info[FOO].narHash = {
			algorithm: "sha256",
			format: "base16",
			hash: CURRENT[1]?.narHash,
		} as unknown as string;
		expect(parsePathInfo(structured)).toEqual(CURRENT);
	});
	test.each([
		["an invalid path (null)", { ...FORMAT_1, [path(FOO)]: null }, `${path(FOO)} is not valid`],
		[
			"an invalid path (Nix 2.8)",
			[{ path: path(FOO), valid: false }],
			`${path(FOO)} is not valid in the local store`,
		],
		[
			"a reference the closure does not list",
			[NIX_2_8[0]],
			`${path(BASH)} refers to ${path(GLIBC)}, which it does not list`,
		],
		["no NAR hash", [{ ...NIX_2_8[1], narHash: "md5:xyz" }], "has no SHA-256 NAR hash"],
		["a string", "[]", "neither a list nor an object"],
		["format 2 without storeDir", { ...FORMAT_2, storeDir: undefined }, "it has no storeDir"],
	])("refuses %s", (_, json, message) => {
		expect(() => parsePathInfo(json)).toThrow(PathInfoError);
		expect(() => parsePathInfo(json)).toThrow(message);
	});
});

describe("jsonFormatArguments", () => {
	test.each([
		["nix (Nix) 2.8.0", []],
		["nix (Nix) 2.32.4", []],
		["nix (Nix) 2.33.0", ["--json-format", "2"]],
		["nix (Nix) 2.36.0pre20260822_88b09c6", ["--json-format", "2"]],
		["nix (Determinate Nix 3.8.2) 2.30.1", []],
		["nix (Lix, like Nix) 2.93.0", []],
		["nix (Nix) 3.0.0", ["--json-format", "2"]],
	])("%s: %j", (line, args) => {
		expect(jsonFormatArguments(line)).toEqual(args);
	});
});
