/**
 * The release manifest (outputs/main/release.json): the version, per system
 * its build and region → AMI id, the containers' digests and index. Written
 * last, with the table a person reads.
 */
import { createHash } from "node:crypto";
import type { SnapshotContent } from "../../infra/publish/snapshot-content.ts";
import type { CheckedAmi, CheckedContainer } from "./checks.ts";
import type { ContainerIndex } from "./containers.ts";

export interface SystemRelease {
	buildId: string;
	label: string;
	/** When publish registered the build's AMI (ISO 8601): a later release refuses older builds. */
	builtAt?: string;
	sourceImage: { region: string; imageId: string; name: string };
	imageBuilderImage: string;
	/** The SSM parameter that holds this system's latest AMI id in every region (aws:ec2:image). */
	ssmParameter: string;
	/** Whether this build's AMI passed the smoke test (in this run or an earlier one), or it was skipped. */
	smokeTest: "passed" | "skipped";
	/** region → AMI id */
	regions: Record<string, string>;
	/**
	 * What publish recorded of the source snapshot's content (ami.json): the
	 * blocks with data and their LINEAR checksum, which `verify --deep` reads
	 * back. Absent in releases of versions before it.
	 */
	snapshotContent?: SnapshotContent;
	/**
	 * The disk image's SHA-256 (64 hex digits), as the source AMI's
	 * ImageSha256 tag says, which release put on every copy too: what a user
	 * holding an AMI id reads, and finds the provenance statement by. Absent
	 * in releases of versions before it.
	 */
	imageSha256?: string;
	/** The source AMI's root snapshot, as EC2 describes it: the AMI statement's snapshotId. Absent in releases of versions before it. */
	snapshotId?: string;
}

/** One image's SBOM as the release carries it: a file of the release's site. */
export interface ReleasedSbom {
	system: string;
	image: "oci-container" | "virtual-machine";
	/** Relative to the site (outputs/main/release/, published beside release.json): sbom/<system>/<image>.cdx.json. */
	path: string;
	/** The SHA-256 (hex) of the file's bytes. */
	sha256: string;
	/** What it describes (its metadata.component): `sha256:<hex>`, the manifest digest or the disk image's SHA-256. */
	subject: string;
}

export interface ReleaseManifest {
	version: string;
	releaseId: string;
	/** When this release was first made (ISO 8601): kept by a re-run of the same release. */
	releasedAt: string;
	stack: string;
	/** Whether the AMIs were made public (the stack's publicAmis). */
	publicAmis: boolean;
	/** The stack's distribution regions at the release: where each system has a copy. */
	regions?: string[];
	amis: Record<string, SystemRelease>;
	containers?: {
		repository: string;
		nixVersion: string;
		indexDigest: string;
		/** The index's own tag (never moves), and the moving tags that point at it (none while a system is missing). */
		tags: { release: string; moving: string[] };
		/** architecture → the image publish pushed */
		images: Record<string, { system: string; buildId: string; tag: string; digest: string }>;
	};
	/** Each released image's SBOM (absent in releases of versions before it). */
	sboms?: ReleasedSbom[];
}

/** A release's id: from what it releases (the builds), so the same builds are the same release. */
export function releaseIdOf(
	amis: readonly Pick<CheckedAmi, "system" | "buildId">[],
	containers: readonly Pick<CheckedContainer, "architecture" | "digest">[],
): string {
	const parts = [
		...amis.map((ami) => `ami ${ami.system} ${ami.buildId}`),
		...containers.map((container) => `container ${container.architecture} ${container.digest}`),
	].sort();
	return createHash("sha256").update(parts.join("\n")).digest("hex").slice(0, 12);
}

export function containerSection(
	index: ContainerIndex,
	images: readonly CheckedContainer[],
	moving: string[],
): ReleaseManifest["containers"] {
	return {
		repository: index.repository,
		nixVersion: index.nixVersion,
		indexDigest: index.digest ?? "",
		tags: { release: index.tags.release, moving },
		images: Object.fromEntries(
			images.map((image) => [
				image.architecture,
				{ system: image.system, buildId: image.buildId, tag: image.tag, digest: image.digest },
			]),
		),
	};
}

/** Rows of region → AMI id per system: plain text columns, or a Markdown table. */
export function amiTable(manifest: ReleaseManifest, markdown = false): string {
	const systems = Object.keys(manifest.amis);
	const regions = [
		...new Set(systems.flatMap((system) => Object.keys(manifest.amis[system]?.regions ?? {}))),
	].sort();
	const rows = regions.map((region) => [
		region,
		...systems.map((system) => manifest.amis[system]?.regions[region] ?? "–"),
	]);
	const head = ["region", ...systems];
	if (markdown) {
		return [
			`| ${head.join(" | ")} |`,
			`| ${head.map(() => "---").join(" | ")} |`,
			...rows.map((row) => `| ${row.join(" | ")} |`),
		].join("\n");
	}
	const widths = head.map((_, column) =>
		Math.max(...[head, ...rows].map((row) => (row[column] ?? "").length)),
	);
	return [head, ...rows]
		.map((row) =>
			row
				.map((cell, column) => cell.padEnd(widths[column] ?? 0))
				.join("  ")
				.trimEnd(),
		)
		.join("\n");
}

/** The release as a GitHub step summary: the table and the containers. */
export function summaryMarkdown(
	manifest: ReleaseManifest,
	missing: readonly string[] = [],
): string {
	const lines = [`### Release ${manifest.version}`, ""];
	if (missing.length > 0) lines.push(`**Not in this release:** ${missing.join("; ")}.`, "");
	if (Object.keys(manifest.amis).length > 0) lines.push(amiTable(manifest, true), "");
	const containers = manifest.containers;
	if (containers) {
		lines.push(
			`Container \`${containers.repository}\`: ${[...containers.tags.moving, containers.tags.release].map((tag) => `\`${tag}\``).join(", ")} → \`${containers.indexDigest}\``,
			"",
			"| architecture | tag | digest |",
			"| --- | --- | --- |",
			...Object.entries(containers.images).map(
				([architecture, image]) => `| ${architecture} | \`${image.tag}\` | \`${image.digest}\` |`,
			),
			"",
		);
	}
	return `${lines.join("\n")}\n`;
}
