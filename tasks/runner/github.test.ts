import { describe, expect, test } from "bun:test";
import {
	endGroup,
	errorAnnotation,
	escapeData,
	onGitHubActions,
	startGroup,
	timingTable,
} from "./github.ts";

describe("GitHub Actions workflow commands", () => {
	test("are on only when GITHUB_ACTIONS is true", () => {
		expect(onGitHubActions({ GITHUB_ACTIONS: "true" })).toBe(true);
		expect(onGitHubActions({ GITHUB_ACTIONS: "1" })).toBe(false);
		expect(onGitHubActions({})).toBe(false);
	});
	test("escape data and properties as the toolkit does", () => {
		expect(escapeData("50%\r\nnext")).toBe("50%25%0D%0Anext");
		expect(errorAnnotation("Task a:b, c failed", "line 1\nline 2")).toBe(
			"::error title=Task a%3Ab%2C c failed::line 1%0Aline 2\n",
		);
	});
	test("group a task's log", () => {
		expect(startGroup("images --system=x86_64-linux")).toBe(
			"::group::images --system=x86_64-linux\n",
		);
		expect(endGroup()).toBe("::endgroup::\n");
	});
	test("summarise timings as a Markdown table", () => {
		expect(
			timingTable([
				{ task: "clean", result: "succeeded", milliseconds: 1234 },
				{ task: "a|b", result: "not run", milliseconds: undefined },
			]),
		).toBe(
			"### bun task\n\n| Task | Result | Duration |\n| --- | --- | ---: |\n| clean | succeeded | 1.2 s |\n| a\\|b | not run | – |\n\n",
		);
	});
});
