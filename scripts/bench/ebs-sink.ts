/**
 * A loopback EBS/EC2 sink for `bun run bench publish`, in its own process so
 * its CPU and memory are not the uploader's: the test stand-in, keeping only
 * each block's SHA-256. Prints its URL, then serves until killed.
 */
import { ebsService, ec2Service } from "../../test/aws/services.ts";
import { startStandIn } from "../../test/aws/stand-in.ts";
import { createWorld } from "../../test/aws/world.ts";

const world = createWorld();
world.keepBlocks = false;
const standIn = await startStandIn({ ebs: ebsService(world), ec2: ec2Service(world) });
console.log(standIn.url);
