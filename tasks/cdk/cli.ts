/** The CDK app and the pinned CDK CLI, run with Bun (no Node.js needed). */
import { join } from "node:path";

/** The app cdk.json names ("bun infra/app.ts"), as arguments for Bun. */
export const CDK_APP = ["infra/app.ts"] as const;

/** The pinned aws-cdk CLI (package.json), never one `bunx` would fetch. */
export function cdkCli(root: string): string {
	return join(root, "node_modules", "aws-cdk", "bin", "cdk");
}
