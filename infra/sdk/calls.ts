/**
 * How publishing steps call AWS: every request through the run's retry
 * budget, and the ones that change something only when it is no dry run
 * (then they are printed with their key parameters instead).
 */
import type { Command as SdkCommand } from "@smithy/core/client";
import type { CallOptions, RetryBudget } from "./retry.ts";

/** Any SDK v3 client: `send(command, { abortSignal })`. */
interface Client {
	// biome-ignore lint/suspicious/noExplicitAny: each SDK client has its own command and output types.
	send(command: any, options?: { abortSignal?: AbortSignal }): Promise<any>;
}

/** An SDK v3 command, typed by its output. */
// biome-ignore lint/suspicious/noExplicitAny: only the output type matters here.
type Command<Output extends object> = SdkCommand<any, Output & { $metadata: object }, any>;

/** The operation a command performs: StartSnapshotCommand → StartSnapshot. */
function operationOf(command: object): string {
	return command.constructor.name.replace(/Command$/, "");
}

/** A command's input for a log line: binary data as its length, nothing secret. */
function summarize(input: object): string {
	return JSON.stringify(input, (_key, value) =>
		value instanceof Uint8Array ? `<${value.byteLength} bytes>` : value,
	);
}

export class AwsCalls {
	constructor(
		readonly budget: RetryBudget,
		readonly dryRun: boolean,
		readonly log: (line: string) => void,
		/** Waited for before each attempt, retries included, outside its timeout (a region's request rate: Pace.turn). */
		private readonly pace?: () => Promise<void>,
	) {}

	/** These calls, each attempt paced by `pace` (the same retry budget). */
	paced(pace: () => Promise<void>): AwsCalls {
		return new AwsCalls(this.budget, this.dryRun, this.log, pace);
	}

	/** A call that changes nothing: it runs under --dry-run too, since later calls depend on it. */
	read<Output extends object>(
		client: Client,
		command: Command<Output>,
		options: CallOptions = {},
	): Promise<Output> {
		return this.budget.call(
			operationOf(command),
			(abortSignal) => client.send(command, { abortSignal }),
			this.pace ? { ...options, beforeAttempt: this.pace } : options,
		);
	}

	/** A call that changes AWS: under --dry-run it is printed, not made, and gives undefined. */
	async write<Output extends object>(
		client: Client,
		command: Command<Output>,
		options: CallOptions = {},
	): Promise<Output | undefined> {
		if (this.dryRun) {
			this.log(`would call ${operationOf(command)} ${summarize(command.input)}`);
			return undefined;
		}
		return this.read(client, command, options);
	}
}
