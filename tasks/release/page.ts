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
import type { History } from "./history.ts";
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
.rolled-back { border-left: 4px solid #b3261e; padding: .25rem .75rem; }
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

/** Where the pipeline's scheduled vulnerability scan publishes its report in the site (report-only). */
export const VULNERABILITY_REPORT_PATH = "vulnerabilities/report.txt";

const IMAGE_NAMES = {
	"oci-container": "container image",
	"virtual-machine": "disk image",
} as const;

/** Each image's SBOM, by its own SHA-256 and what it describes; the report of known vulnerabilities. */
function supplyChainSection(manifest: ReleaseManifest, base: string): string {
	const sboms = manifest.sboms ?? [];
	const rows = sboms
		.map(
			(sbom) =>
				`<tr><th scope="row">${e(sbom.system)}</th><td>${e(IMAGE_NAMES[sbom.image])}</td><td><a href="${e(sbom.path)}">${e(sbom.path.split("/").pop() ?? sbom.path)}<span class="visually-hidden"> of the ${e(sbom.system)} ${e(IMAGE_NAMES[sbom.image])}</span></a></td><td><code>sha256:${e(sbom.sha256)}</code></td><td><code>${e(sbom.subject)}</code></td></tr>`,
		)
		.join("\n");
	const table =
		sboms.length === 0
			? "<p>This release carries no SBOMs (its images were published by an earlier version).</p>"
			: `<div class="scroll"><table>
<caption>SBOMs (CycloneDX 1.6) of this release's images</caption>
<thead><tr><th scope="col">System</th><th scope="col">Image</th><th scope="col">SBOM</th><th scope="col">SBOM's SHA-256</th><th scope="col">Describes</th></tr></thead>
<tbody>
${rows}
</tbody>
</table></div>`;
	return `<section aria-labelledby="supply-chain">
<h2 id="supply-chain">SBOMs and provenance</h2>
<p>Each SBOM lists the image's whole Nix closure; it describes the image whose digest it names (the container's manifest digest, or the disk image's SHA-256, which every AMI carries as its <code>ImageSha256</code> tag). The pipeline signs provenance for each image, SBOM and AMI with GitHub's artifact attestations; the project's manual shows how to check them (docs/supply-chain.md).</p>
${table}
<p>Known vulnerabilities in these closures: <a href="${e(base + VULNERABILITY_REPORT_PATH)}">the daily report</a> (for information only; it never holds a release back).</p>
</section>`;
}

/** How the page sits in the site: the history it lists, and the way up to the site's top from it. */
export interface PageContext {
	history?: History;
	/** "" for the site's own page, "../../" for a kept release's (releases/<id>/index.html). */
	base?: string;
}

/** Whether this is the current release, an earlier one, or one rolled back: said at the top of its page. */
function statusNote(manifest: ReleaseManifest, { history, base = "" }: PageContext): string {
	const own = history?.releases.find((entry) => entry.releaseId === manifest.releaseId);
	const current = history?.releases.find((entry) => entry.current);
	if (own === undefined || own.current) return "";
	const now = current
		? `; the current release is <a href="${e(`${base}index.html`)}">${e(current.version)}</a>`
		: "";
	if (own.rolledBack) {
		const when = own.rolledBackAt
			? ` on <time datetime="${e(own.rolledBackAt)}">${e(own.rolledBackAt.slice(0, 10))}</time>`
			: "";
		return `<p class="rolled-back" role="note"><strong>Rolled back</strong>${when}: do not use this release${now}.</p>`;
	}
	return `<p class="note" role="note">An earlier release${now}.</p>`;
}

/** Every release of the history but this one, newest first, each to its own page; rolled-back ones marked. */
function historySection(manifest: ReleaseManifest, { history, base = "" }: PageContext): string {
	const others = (history?.releases ?? []).filter(
		(entry) => entry.releaseId !== manifest.releaseId,
	);
	if (others.length === 0) return "";
	const items = others
		.map(
			(entry) =>
				`<li><a href="${e(entry.current ? `${base}index.html` : base + entry.page)}">${e(entry.version)}</a>, <time datetime="${e(entry.releasedAt)}">${e(entry.releasedAt.slice(0, 10))}</time>${entry.current ? " (current)" : ""}${entry.rolledBack ? " <strong>(rolled back)</strong>" : ""} · <a href="${e(base + entry.url)}">release.json</a></li>`,
		)
		.join("\n");
	return `<section aria-labelledby="history">
<h2 id="history">Other releases</h2>
<p>Every release stays listed, with its AMI ids and digests as they were: <a href="${e(`${base}releases.json`)}">releases.json</a> for machines, an <a href="${e(`${base}releases.atom`)}">Atom feed</a> to subscribe to.</p>
<ul>
${items}
</ul>
</section>`;
}

/** The whole page. */
export function renderPage(manifest: ReleaseManifest, context: PageContext = {}): string {
	const base = context.base ?? "";
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
${statusNote(manifest, context)}
</header>
<main>
${amiSection(manifest)}
${containerSection(manifest)}
${supplyChainSection(manifest, base)}
${historySection(manifest, context)}
</main>
${Object.keys(manifest.amis).length > 0 ? `<script>${SCRIPT}</script>` : ""}
</body>
</html>
`;
}

/** Writes the page to `path` (outputs/main/release/index.html) in one rename. */
export function writePage(
	path: string,
	manifest: ReleaseManifest,
	context: PageContext = {},
): void {
	mkdirSync(dirname(path), { recursive: true });
	writeAtomically(path, renderPage(manifest, context));
}
