/**
 * The release page (outputs/main/release/index.html): which AMI id to use in
 * which region, and how to pull the container, rendered from release.json
 * alone, so an older release renders again. One static file: inline CSS and
 * a few lines of script, no framework, no request to anywhere.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { writeAtomically } from "../project/files.ts";
import { quoteArgument } from "../runner/shell.ts";
import type { ReleaseManifest, SystemRelease } from "./manifest.ts";

/** Text as HTML, safe in element content and in quoted attributes. */
export function escapeHtml(text: string): string {
	return text
		.replaceAll("&", "&amp;")
		.replaceAll("<", "&lt;")
		.replaceAll(">", "&gt;")
		.replaceAll('"', "&quot;")
		.replaceAll("'", "&#39;");
}

/** The EC2 console's launch wizard for `imageId` in `region`. */
export function launchUrl(region: string, imageId: string): string {
	return `https://${region}.console.aws.amazon.com/ec2/home?region=${region}#LaunchInstances:ami=${imageId}`;
}

const e = escapeHtml;

/** A command a reader copies, each argument quoted as a POSIX shell reads it. */
function command(args: readonly string[]): string {
	return args.map(quoteArgument).join(" ");
}

const STYLE = `
:root { color-scheme: light dark; --fg: #1b1b1b; --bg: #fff; --muted: #4a4a4a; --line: #c8c8c8; --link: #0a4fb4; --accent: #f2f5fa; }
@media (prefers-color-scheme: dark) { :root { --fg: #ececec; --bg: #16181c; --muted: #b8b8b8; --line: #4a4d55; --link: #8cb8ff; --accent: #22262d; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 60rem; padding: 1rem; font: 1rem/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; overflow-wrap: anywhere; }
h2 { margin-top: 2rem; border-bottom: 1px solid var(--line); }
p.meta, .note { color: var(--muted); }
code { font: .9em ui-monospace, monospace; overflow-wrap: anywhere; }
pre { background: var(--accent); padding: .5rem .75rem; overflow-x: auto; border-radius: 4px; }
a { color: var(--link); }
a:focus-visible, input:focus-visible { outline: 3px solid var(--link); outline-offset: 2px; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dt { font-weight: 600; }
dd { margin: 0; min-width: 0; }
.scroll { overflow-x: auto; position: relative; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; }
caption { text-align: left; font-weight: 600; padding: .25rem 0; }
th, td { text-align: left; padding: .35rem .6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
td code { overflow-wrap: normal; }
thead th { background: var(--accent); }
label { font-weight: 600; margin-right: .5rem; }
input { font: inherit; padding: .3rem .5rem; width: min(100%, 20rem); color: var(--fg); background: var(--bg); border: 1px solid var(--muted); border-radius: 4px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

/** Hides the rows of the regions the filter does not match, and says how many are shown. */
const SCRIPT = `
const filter = document.getElementById("filter");
const status = document.getElementById("filter-status");
const rows = [...document.querySelectorAll("tr[data-region]")];
filter.addEventListener("input", () => {
	const wanted = filter.value.trim().toLowerCase();
	let shown = 0;
	for (const row of rows) {
		const match = row.dataset.region.includes(wanted);
		row.hidden = !match;
		if (match) shown++;
	}
	status.textContent = wanted ? shown + " of " + rows.length + " rows match “" + filter.value.trim() + "”." : "";
});
`;

function systemSection(system: string, release: SystemRelease): string {
	const regions = Object.keys(release.regions).sort();
	const rows = regions
		.map((region) => {
			const imageId = release.regions[region] as string;
			return `<tr data-region="${e(region)}"><th scope="row">${e(region)}</th><td><code>${e(imageId)}</code></td><td><a href="${e(launchUrl(region, imageId))}">Launch<span class="visually-hidden"> ${e(imageId)} in ${e(region)}</span></a></td></tr>`;
		})
		.join("\n");
	const example = regions[0] ?? "us-east-1";
	return `<section aria-labelledby="system-${e(system)}">
<h3 id="system-${e(system)}">${e(system)}</h3>
<dl>
<dt>SSM parameter</dt><dd><code>${e(release.ssmParameter)}</code></dd>
<dt>Build id</dt><dd><code>${e(release.buildId)}</code></dd>
<dt>NixOS</dt><dd>${e(release.label)}</dd>
<dt>Smoke test</dt><dd>${e(release.smokeTest)}</dd>
<dt>Source AMI</dt><dd><code>${e(release.sourceImage.imageId)}</code> (${e(release.sourceImage.region)}, ${e(release.sourceImage.name)})</dd>
</dl>
<div class="scroll"><table>
<caption>${e(system)} AMI id by region</caption>
<thead><tr><th scope="col">Region</th><th scope="col">AMI id</th><th scope="col">EC2 console</th></tr></thead>
<tbody>
${rows}
</tbody>
</table></div>
<pre><code>${e(command(["aws", "ssm", "get-parameter", "--region", example, "--name", release.ssmParameter, "--query", "Parameter.Value", "--output", "text"]))}</code></pre>
</section>`;
}

function amiSection(manifest: ReleaseManifest): string {
	const systems = Object.entries(manifest.amis);
	if (systems.length === 0) return "";
	return `<section aria-labelledby="amis">
<h2 id="amis">NixOS AMIs</h2>
<p>${manifest.publicAmis ? "Public in every region below: any AWS account can launch them." : "Private to the publishing AWS account in every region below (this stack does not make its AMIs public)."} In that account, a template can resolve the latest one at deploy time instead of copying an id: <code>resolve:ssm:&lt;parameter&gt;</code> (EC2 launch templates, <code>--image-id</code>) or a CloudFormation parameter of type <code>AWS::SSM::Parameter::Value&lt;AWS::EC2::Image::Id&gt;</code> whose default is the parameter's name; the parameters live in that account only.</p>
<p><label for="filter">Filter regions</label><input id="filter" type="search" placeholder="e.g. eu-west" autocomplete="off" aria-describedby="filter-status"></p>
<p id="filter-status" class="note" role="status" aria-live="polite"></p>
${systems.map(([system, release]) => systemSection(system, release)).join("\n")}
</section>`;
}

function containerSection(manifest: ReleaseManifest): string {
	const containers = manifest.containers;
	if (containers === undefined) return "";
	const repository = containers.repository;
	const rows = Object.entries(containers.images)
		.map(
			([architecture, image]) =>
				`<tr><th scope="row">${e(architecture)}</th><td>${e(image.system)}</td><td><code>${e(image.tag)}</code></td><td><code>${e(image.digest)}</code></td><td><code>${e(image.buildId)}</code></td></tr>`,
		)
		.join("\n");
	return `<section aria-labelledby="container">
<h2 id="container">Container image</h2>
<p>One multi-architecture image (an OCI index) for ${Object.keys(containers.images).map(e).join(" and ")}: your container runtime pulls the one for its machine.</p>
<pre><code>${[...containers.tags.moving.map((tag) => `${repository}:${tag}`), `${repository}:${containers.tags.release}`, `${repository}@${containers.indexDigest}`].map((reference) => e(command(["docker", "pull", reference]))).join("\n")}</code></pre>
<p class="note">By digest, the pull is this release's exactly; <code>${e(containers.tags.release)}</code> is this release's own tag, which never moves${containers.tags.moving.length > 0 ? `; ${containers.tags.moving.map((tag) => `<code>${e(tag)}</code>`).join(" and ")} move to each new release` : ""}.</p>
<div class="scroll"><table>
<caption>The images in the index <code>${e(containers.indexDigest)}</code></caption>
<thead><tr><th scope="col">Architecture</th><th scope="col">System</th><th scope="col">Tag</th><th scope="col">Digest</th><th scope="col">Build id</th></tr></thead>
<tbody>
${rows}
</tbody>
</table></div>
</section>`;
}

/** The whole page. */
export function renderPage(manifest: ReleaseManifest): string {
	const date = manifest.releasedAt.slice(0, 10);
	return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>nix-images ${e(manifest.version)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>nix-images ${e(manifest.version)}</h1>
<p class="meta">Released <time datetime="${e(manifest.releasedAt)}">${e(date)}</time> from the stack ${e(manifest.stack)} · release id <code>${e(manifest.releaseId)}</code></p>
</header>
<main>
${amiSection(manifest)}
${containerSection(manifest)}
</main>
${Object.keys(manifest.amis).length > 0 ? `<script>${SCRIPT}</script>` : ""}
</body>
</html>
`;
}

/** Writes the page to `path` (outputs/main/release/index.html) in one rename. */
export function writePage(path: string, manifest: ReleaseManifest): void {
	mkdirSync(dirname(path), { recursive: true });
	writeAtomically(path, renderPage(manifest));
}
