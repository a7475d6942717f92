/**
 * Room for a release's public copies, before any DistributeImage: every
 * release adds one public AMI per system to every region, and AWS allows 5
 * per region by default (public AMIs in the Recycle Bin count too). When a
 * region has no room, release refuses with the numbers and the ways out; with
 * --make-room it first retires this stack's oldest public AMIs there (never
 * what users get now, nor one younger than a day).
 */
import { publicAmiQuota, publicAmiUsage } from "../../infra/account/quota.ts";
import { stackImages } from "../../infra/prune/inventory.ts";
import { planMakeRoom } from "../../infra/prune/plan.ts";
import type { AwsSession } from "../aws/session.ts";
import type { CheckedAmi } from "../release/checks.ts";
import type { ReleaseManifest } from "../release/manifest.ts";
import { TaskError } from "../runner/errors.ts";
import type { TaskContext } from "../runner/task.ts";
import { namedAmis } from "./protection.ts";
import { retireAll } from "./retirement.ts";

/** One region's arithmetic. */
export interface Room {
	region: string;
	/** Public AMIs of the account there, those in the Recycle Bin included. */
	used: number;
	/** What this release adds there: a copy per system not public there yet. */
	needed: number;
	allowed: number;
	source: string;
}

/** Each region's quota, usage and what this release needs there; only reads. */
export async function publicAmiRoom(
	{ clients, calls }: AwsSession,
	regions: readonly string[],
	amis: readonly CheckedAmi[],
): Promise<Room[]> {
	return Promise.all(
		regions.map(async (region) => {
			const [quota, usage] = await Promise.all([
				publicAmiQuota(calls, clients.serviceQuotasIn(region)),
				publicAmiUsage(calls, clients.ec2In(region)),
			]);
			// A re-run: a system whose copy of this build is public there already needs nothing more.
			const needed = amis.filter(
				(ami) => !usage.public.some((image) => image.SourceImageId === ami.imageId),
			).length;
			return {
				region,
				used: usage.public.length + usage.inRecycleBin,
				needed,
				allowed: quota.value,
				source: quota.source,
			};
		}),
	);
}

const short = (room: Room) => room.used + room.needed - room.allowed;

/** "eu-west-1 (5 used, 2 needed, 5 allowed)". */
function describeRooms(rooms: readonly Room[]): string {
	return rooms
		.map(
			(room) =>
				`${room.region} (${room.used} used, ${room.needed} needed, ${room.allowed} allowed${room.source === "assumed" ? ", AWS's default: the quota could not be read" : ""})`,
		)
		.join(", ");
}

/**
 * Refuses a release that does not fit, or with `makeRoom` retires what
 * makes it fit: per region the oldest public AMIs of this stack beyond
 * the quota, launch permission removed before deregistration. Under
 * --dry-run it says what would go.
 */
export async function requirePublicAmiRoom(
	context: TaskContext,
	session: AwsSession,
	amis: readonly CheckedAmi[],
	current: ReleaseManifest | undefined,
	makeRoom: boolean,
): Promise<void> {
	const { stack, clients, calls } = session;
	const regions = stack.DistributionRegions.split(",");
	const rooms = await publicAmiRoom(session, regions, amis);
	const full = rooms.filter((room) => short(room) > 0);
	if (full.length === 0) return;
	const ways = `ask AWS for a larger "Public AMIs" quota (\`bun task account --request-public-ami-quota 10\`, which takes AWS a while), or release with --make-room to retire this stack's oldest public AMIs there (users who launch them by id lose them)`;
	if (!makeRoom) {
		throw new TaskError(
			`The public-AMI quota leaves no room for this release in ${describeRooms(full)}; ${ways}. Nothing was released.`,
		);
	}
	const named = await namedAmis(session, regions, current);
	for (const ami of amis) named.add(ami.imageId);
	const values = JSON.parse(stack.LifecycleTagValues) as Record<string, string>;
	const plans = await Promise.all(
		full.map(async (room) => {
			const copies = (
				await stackImages(calls, clients.ec2In(room.region), room.region, values)
			).filter((image) => image.kind === "copy");
			return { room, removals: planMakeRoom(copies, short(room), { named, now: Date.now() }) };
		}),
	);
	const stuck = plans.filter(({ room, removals }) => removals.length < short(room));
	if (stuck.length > 0) {
		throw new TaskError(
			`The public-AMI quota leaves no room for this release in ${describeRooms(stuck.map(({ room }) => room))}, and --make-room may retire too few of this stack's AMIs there (not what users get now, nor one younger than a day); ask AWS for a larger "Public AMIs" quota (\`bun task account --request-public-ami-quota 10\`). Nothing was released.`,
		);
	}
	await retireAll(
		context,
		session,
		plans.flatMap(({ removals }) => removals),
		"to make room",
	);
}
