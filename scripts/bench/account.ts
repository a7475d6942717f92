/**
 * The whole stand-in account (every service publish calls, the deployed stack
 * in it) in a process of its own, for benchmarks that run the real task: its
 * CPU and memory are not the task's. Blocks are checked and only their
 * SHA-256 kept. With SNAPSHOT_INVISIBLE_MS, new snapshots stay invisible that
 * long in real time, as AWS's can. Prints the environment that reaches it
 * (JSON), then serves until killed.
 */
import { standInAccount } from "../../test/aws/start.ts";

const { world, standIn } = await standInAccount();
world.keepBlocks = false;
world.unkind.snapshotInvisibleMs = Number(process.env.SNAPSHOT_INVISIBLE_MS ?? 0);
console.log(JSON.stringify(standIn.env));
