import { describe, expect, test } from "bun:test";
import type { ReleaseManifest } from "./manifest.ts";
import { escapeHtml, launchUrl, renderPage } from "./page.ts";

const manifest: ReleaseManifest = {
	version: "26.05-abc",
	releaseId: "abc",
	releasedAt: "2026-12-01T00:00:00.000Z",
	stack: '<script>alert("stack")</script>',
	publicAmis: true,
	amis: {
		"x86_64-linux": {
			buildId: "1111111111111111",
			label: "26.05",
			sourceImage: { region: "us-east-1", imageId: "ami-0source", name: "nixos" },
			imageBuilderImage: "arn",
			ssmParameter: "/nix-images/Production/nixos/x86_64-linux/latest",
			smokeTest: "passed",
			regions: { "eu-west-1": "ami-0eu", "us-east-1": "ami-0us" },
		},
	},
};

describe("renderPage", () => {
	test("escapes every value it shows", () => {
		const html = renderPage(manifest);
		expect(html).not.toContain('<script>alert("stack")');
		expect(html).toContain("&lt;script&gt;alert(&quot;stack&quot;)&lt;/script&gt;");
		expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
			"&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
		);
	});
	test("lists the regions in order, each with its launch link", () => {
		const html = renderPage(manifest);
		expect(html.indexOf('data-region="eu-west-1"')).toBeLessThan(
			html.indexOf('data-region="us-east-1"'),
		);
		expect(html).toContain(`href="${launchUrl("eu-west-1", "ami-0eu")}"`);
		expect(launchUrl("eu-west-1", "ami-0eu")).toBe(
			"https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#LaunchInstances:ami=ami-0eu",
		);
	});
	test("says whether the AMIs are public, and that the parameters live in the publishing account", () => {
		expect(renderPage(manifest)).toContain(
			"Public in every region below: any AWS account can launch them.",
		);
		const private_ = renderPage({ ...manifest, publicAmis: false });
		expect(private_).toContain("Private to the publishing AWS account in every region below");
		expect(private_).toContain("the parameters live in that account only");
	});
	test("without containers it has no container section, without AMIs no filter script", () => {
		expect(renderPage(manifest)).not.toContain("docker pull");
		const containersOnly = renderPage({ ...manifest, amis: {} });
		expect(containersOnly).not.toContain("<script>");
		expect(containersOnly).not.toContain('id="filter"');
	});
	test("quotes every argument of the commands it shows for copying", () => {
		const x86 = manifest.amis["x86_64-linux"] as NonNullable<(typeof manifest.amis)[string]>;
		const html = renderPage({
			...manifest,
			amis: { "x86_64-linux": { ...x86, ssmParameter: "/a b/$(x)" } },
		});
		expect(html).toContain("--name &#39;/a b/$(x)&#39; --query Parameter.Value");
		expect(renderPage(manifest)).toContain(
			"aws ssm get-parameter --region eu-west-1 --name /nix-images/Production/nixos/x86_64-linux/latest",
		);
	});
});
