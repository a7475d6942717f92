/**
 * What retention removes, decided from what was found (inventory.ts), with
 * nothing sent: so the same plan is printed, then carried out. Never removed:
 * an AMI the current release.json or an SSM parameter names, or one younger
 * than a day (a release in progress).
 */
import type { Snapshot } from "@aws-sdk/client-ec2";
import type { StackImage } from "./inventory.ts";

export const DAY_MS = 86_400_000;

export interface Removal {
	target: StackImage;
	reason: string;
}

export interface Protection {
	/** AMI ids the current release.json or an SSM parameter names. */
	named: ReadonlySet<string>;
	now: number;
}

/** Why an AMI must stay whatever else says, or undefined. */
export function protectedBecause(image: StackImage, protection: Protection): string | undefined {
	if (protection.named.has(image.image.ImageId ?? "")) return "users get it now";
	if (protection.now - image.createdAt < DAY_MS) return "younger than a day";
	return undefined;
}

const newestFirst = (a: StackImage, b: StackImage) => b.createdAt - a.createdAt;

/**
 * Prune's AMIs: in each region, each system's copies beyond the newest
 * `keep`; released sources none of whose copies stay; sources never
 * released, once older than `maxAgeMs`. Each with why.
 */
export function planImagePrune(
	images: readonly StackImage[],
	keep: number,
	maxAgeMs: number,
	protection: Protection,
): Removal[] {
	const removals: Removal[] = [];
	const copies = images.filter((image) => image.kind === "copy");
	const groups = new Map<string, StackImage[]>();
	for (const copy of copies) {
		const key = `${copy.region} ${copy.system}`;
		groups.set(key, [...(groups.get(key) ?? []), copy]);
	}
	for (const group of groups.values()) {
		for (const copy of [...group].sort(newestFirst).slice(keep)) {
			if (protectedBecause(copy, protection) === undefined) {
				removals.push({
					target: copy,
					reason: `beyond the newest ${keep} of ${copy.system} there`,
				});
			}
		}
	}
	const removed = new Set(removals.map((removal) => removal.target.image.ImageId));
	for (const source of images.filter((image) => image.kind === "source")) {
		if (protectedBecause(source, protection) !== undefined) continue;
		const remaining = copies.filter(
			(copy) =>
				copy.image.SourceImageId === source.image.ImageId && !removed.has(copy.image.ImageId),
		);
		if (source.released && remaining.length === 0) {
			removals.push({ target: source, reason: "released, and none of its copies stays" });
		} else if (!source.released && protection.now - source.createdAt > maxAgeMs) {
			removals.push({
				target: source,
				reason: `never released, older than ${Math.round(maxAgeMs / DAY_MS)} days`,
			});
		}
	}
	return removals;
}

/**
 * `release --make-room`: in one region, the oldest public AMIs of this stack
 * (copies of any system), as many as `needed`, never a protected one. Fewer
 * come back when not enough may go.
 */
export function planMakeRoom(
	publicCopies: readonly StackImage[],
	needed: number,
	protection: Protection,
): Removal[] {
	return [...publicCopies]
		.filter((copy) => copy.image.Public && protectedBecause(copy, protection) === undefined)
		.sort((a, b) => a.createdAt - b.createdAt)
		.slice(0, Math.max(needed, 0))
		.map((target) => ({ target, reason: "the oldest public AMI of this stack there" }));
}

/** Snapshots of this project no AMI uses, older than a day (failed or interrupted publishes). */
export function orphanSnapshots(
	snapshots: readonly Snapshot[],
	inUse: ReadonlySet<string>,
	now: number,
): Snapshot[] {
	return snapshots.filter(
		(snapshot) =>
			snapshot.SnapshotId !== undefined &&
			!inUse.has(snapshot.SnapshotId) &&
			now - (snapshot.StartTime?.getTime() ?? now) > DAY_MS,
	);
}
