/**
 * The manual (README.md, the front door, and docs/, one page per topic): every
 * relative link resolves to a file of the repository and, where it has a
 * #fragment, to a heading of that file by GitHub's anchor rules (github-slugger,
 * one slugger per file in heading order, so a repeated heading is -1, -2, …;
 * headings inside code blocks do not count); every page can be reached from
 * the README; and every page opens with what a reader can do after reading it.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import GithubSlugger from "github-slugger";
import { REPO } from "./helpers.ts";

/** The text outside fenced code blocks, split into paragraphs (what a link can span), each with its first line. */
function paragraphs(markdown: string): { line: number; text: string }[] {
	const found: { line: number; text: string }[] = [];
	let fence: string | undefined;
	let current: { line: number; lines: string[] } | undefined;
	const close = () => {
		if (current) found.push({ line: current.line, text: current.lines.join("\n") });
		current = undefined;
	};
	markdown.split("\n").forEach((line, index) => {
		const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
		if (fence !== undefined) {
			// A fence closes with the same character, at least as long, and nothing after it.
			const closes =
				marker !== undefined &&
				marker[0] === fence[0] &&
				marker.length >= fence.length &&
				line.trim() === marker;
			if (closes) fence = undefined;
			return;
		}
		if (marker !== undefined) {
			close();
			fence = marker;
			return;
		}
		if (line.trim() === "") close();
		else if (current) current.lines.push(line);
		else current = { line: index + 1, lines: [line] };
	});
	close();
	return found;
}

/** A paragraph without its code spans, which hold no links (a line break inside one is a space). */
function withoutCodeSpans(text: string): string {
	return text.replace(/(`+)[\s\S]*?\1/g, (span) => span.replace(/[^\n]/g, " "));
}

/** The text a heading shows, which GitHub slugs: code spans keep their content, markup goes. */
function headingText(source: string): string {
	return source
		.split(/(`+[^`]*`+)/)
		.map((part, index) =>
			index % 2 === 1
				? part.replace(/^`+|`+$/g, "")
				: part
						.replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
						.replace(/<[^>]+>/g, "")
						.replace(/\*+/g, "")
						.replace(/(^|\W)_+([^_]+?)_+(?=\W|$)/g, "$1$2"),
		)
		.join("")
		.trim();
}

/** A file's anchors in heading order, as GitHub makes them (ATX and setext headings, none in code). */
function anchors(markdown: string): string[] {
	const slugger = new GithubSlugger();
	const found: string[] = [];
	for (const { text } of paragraphs(markdown)) {
		const lines = text.split("\n");
		// Where the paragraph a setext underline would make a heading starts.
		let start = 0;
		lines.forEach((line, index) => {
			const atx = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line);
			const setext = /^ {0,3}(=+|-+)[ \t]*$/.test(line) && index > start;
			const content = lines.slice(start, index);
			if (atx) {
				found.push(slugger.slug(headingText(atx[1] ?? "")));
				start = index + 1;
			} else if (setext && !/^\s*(\||[-*+] |\d+[.)] )/.test(content[0] ?? "")) {
				found.push(slugger.slug(headingText(content.join(" "))));
				start = index + 1;
			}
		});
	}
	return found;
}

interface Link {
	line: number;
	target: string;
}

/** Every link and image target of a file (inline and reference definitions), outside code. */
function links(markdown: string): Link[] {
	const found: Link[] = [];
	for (const { line, text } of paragraphs(markdown)) {
		const plain = withoutCodeSpans(text);
		const lineOf = (offset: number) => line + (plain.slice(0, offset).match(/\n/g)?.length ?? 0);
		const inline =
			/!?\[(?:[^[\]]|\[[^\]]*\])*\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+("[^"]*"|'[^']*'))?\s*\)/g;
		for (const match of plain.matchAll(inline))
			found.push({ line: lineOf(match.index), target: (match[1] ?? "").replace(/^<|>$/g, "") });
		for (const match of plain.matchAll(/^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/gm))
			found.push({ line: lineOf(match.index), target: (match[1] ?? "").replace(/^<|>$/g, "") });
	}
	return found;
}

/** A target that leaves the repository (a URL, mail), which this test does not follow. */
function isExternal(target: string): boolean {
	return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//");
}

const PAGES = readdirSync(join(REPO, "docs"))
	.filter((name) => name.endsWith(".md"))
	.sort()
	.map((name) => `docs/${name}`);
const MANUAL = ["README.md", ...PAGES];

const anchorsOf = new Map<string, Set<string>>();
function anchorsOfFile(path: string): Set<string> {
	let known = anchorsOf.get(path);
	if (known === undefined) {
		known = new Set(anchors(readFileSync(path, "utf8")));
		anchorsOf.set(path, known);
	}
	return known;
}

/** Where a relative link leads (a repository path), or why it leads nowhere. */
function follow(from: string, target: string): { path: string } | { problem: string } {
	const hash = target.indexOf("#");
	const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
	const fragment = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
	const absolute =
		pathPart === ""
			? join(REPO, from)
			: pathPart.startsWith("/")
				? join(REPO, pathPart)
				: resolve(REPO, dirname(from), pathPart);
	const path = relative(REPO, absolute);
	if (path.startsWith("..")) return { problem: `leads out of the repository (${absolute})` };
	if (!existsSync(absolute)) return { problem: `${path} does not exist` };
	if (fragment !== undefined) {
		if (!statSync(absolute).isFile() || !absolute.endsWith(".md"))
			return { problem: `#${fragment} on ${path}, which is no Markdown file` };
		if (!anchorsOfFile(absolute).has(fragment))
			return { problem: `${path} has no heading whose anchor is #${fragment}` };
	}
	return { path: path === "" ? "." : path };
}

describe("the anchor rules", () => {
	test("are GitHub's: punctuation and markup go, a repeated heading gets -1, -2, code fences hold none", () => {
		const markdown = [
			"# The AMI part (`--only vm`)",
			"## SBOMs",
			"```sh",
			"# not a heading",
			"```",
			"   ```",
			"## inside an indented fence",
			"   ```",
			"### SBOMs",
			"## Settings (CDK context) ##",
			"## **Bold**, [a link](x.md) and _emphasis_ in x86_64-linux",
			"Setext",
			"------",
			"## SBOMs",
		].join("\n");
		expect(anchors(markdown)).toEqual([
			"the-ami-part---only-vm",
			"sboms",
			"sboms-1",
			"settings-cdk-context",
			"bold-a-link-and-emphasis-in-x86_64-linux",
			"setext",
			"sboms-2",
		]);
	});
	test("links are found across line breaks and not inside code", () => {
		const markdown = [
			"See [the",
			'quota](retention.md#the-arithmetic) and `[not](a-link.md)`, ![an image](i.png "title").',
			"",
			"```",
			"[not](either.md)",
			"```",
			"[ref]: <docs/x.md>",
		].join("\n");
		expect(links(markdown)).toEqual([
			{ line: 1, target: "retention.md#the-arithmetic" },
			{ line: 2, target: "i.png" },
			{ line: 7, target: "docs/x.md" },
		]);
	});
});

describe("the manual", () => {
	test("has pages, and the README is short", () => {
		expect(PAGES.length).toBeGreaterThan(0);
		expect(readFileSync(join(REPO, "README.md"), "utf8").split("\n").length).toBeLessThan(150);
	});
	test("every relative link resolves to a file and its #fragment to a heading", () => {
		const problems: string[] = [];
		for (const from of MANUAL) {
			for (const { line, target } of links(readFileSync(join(REPO, from), "utf8"))) {
				if (isExternal(target)) continue;
				const followed = follow(from, target);
				if ("problem" in followed) problems.push(`${from}:${line}: ${target}: ${followed.problem}`);
			}
		}
		expect(problems).toEqual([]);
	});
	test("every page of docs/ can be reached from the README", () => {
		const reached = new Set(["README.md"]);
		const queue = ["README.md"];
		for (let from = queue.shift(); from !== undefined; from = queue.shift()) {
			for (const { target } of links(readFileSync(join(REPO, from), "utf8"))) {
				if (isExternal(target)) continue;
				const followed = follow(from, target);
				if ("path" in followed && followed.path.endsWith(".md") && !reached.has(followed.path)) {
					reached.add(followed.path);
					queue.push(followed.path);
				}
			}
		}
		expect(PAGES.filter((page) => !reached.has(page))).toEqual([]);
	});
	test("every page opens with its title, then what a reader can do after reading it", () => {
		for (const page of PAGES) {
			const [title, opening] = paragraphs(readFileSync(join(REPO, page), "utf8"));
			expect(title?.text, page).toMatch(/^# \S/);
			expect(opening?.text, page).toStartWith("After reading this page you can ");
		}
	});
});
