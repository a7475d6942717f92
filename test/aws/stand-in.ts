/**
 * A loopback stand-in for the AWS APIs publishing calls, written for the
 * tests: a real HTTP server on 127.0.0.1 that the real SDK reaches through
 * AWS_ENDPOINT_URL, speaking each service's wire protocol (EBS and Image
 * Builder REST-JSON, EC2 query, CloudFormation query, ECR Public JSON 1.1).
 * It keeps its state in memory for assertions, logs every call, and can
 * inject faults: throttling, 5xx, a request that hangs, an answer lost after
 * the work was done, and hooks that run between the work and the answer
 * (where a test SIGKILLs the client).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";

export type Protocol = "rest-json" | "ec2" | "query" | "json";

/** An AWS error as the handler raises it; the stand-in renders it in the service's protocol. */
export class AwsError extends Error {
	constructor(
		readonly code: string,
		message: string,
		readonly status = 400,
	) {
		super(message);
	}
}

export interface StandInRequest {
	service: string;
	/** The region the request is signed for. */
	region: string;
	operation: string;
	method: string;
	path: string;
	query: URLSearchParams;
	headers: IncomingMessage["headers"];
	body: Buffer;
	/** Form parameters (EC2 and CloudFormation). */
	params: URLSearchParams;
}

export interface StandInResponse {
	status?: number;
	headers?: Record<string, string>;
	/** A string (XML, JSON), bytes (a Buffer: EBS's GetSnapshotBlock), or an object sent as JSON. */
	body?: string | Buffer | object;
}

export type Handler = (request: StandInRequest) => StandInResponse | Promise<StandInResponse>;

export interface Service {
	protocol: Protocol;
	/** The operation a request performs. */
	operation(request: Omit<StandInRequest, "operation">): string;
	handlers: Record<string, Handler>;
}

export type FaultKind = "throttle" | "5xx" | "hang" | "lost" | "error";

export interface Fault {
	operation: string;
	kind: FaultKind;
	/** For kind "error": the error answered instead of doing the work. */
	error?: AwsError;
	/** How many matching requests get the fault (default 1). */
	times?: number;
	/** Matching requests to let through first (default 0). */
	after?: number;
}

/** Runs after the work of a request, before its answer; "drop" loses the answer. */
export type Hook = (request: StandInRequest) => undefined | "drop" | Promise<undefined | "drop">;

const THROTTLE_CODES: Record<Protocol, string> = {
	"rest-json": "RequestThrottledException",
	ec2: "RequestLimitExceeded",
	query: "Throttling",
	json: "ThrottlingException",
};

function requestId(): string {
	return randomBytes(16).toString("hex");
}

export function xmlEscape(text: string): string {
	return text
		.replaceAll("&", "&amp;")
		.replaceAll("<", "&lt;")
		.replaceAll(">", "&gt;")
		.replaceAll('"', "&quot;");
}

function errorResponse(protocol: Protocol, error: AwsError): StandInResponse {
	const message = xmlEscape(error.message);
	switch (protocol) {
		case "ec2":
			return {
				status: error.status,
				body: `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${error.code}</Code><Message>${message}</Message></Error></Errors><RequestID>${requestId()}</RequestID></Response>`,
			};
		case "query":
			return {
				status: error.status,
				body: `<ErrorResponse><Error><Type>${error.status >= 500 ? "Receiver" : "Sender"}</Type><Code>${error.code}</Code><Message>${message}</Message></Error><RequestId>${requestId()}</RequestId></ErrorResponse>`,
			};
		case "json":
			return {
				status: error.status,
				headers: { "x-amzn-errortype": error.code },
				body: { __type: error.code, message: error.message },
			};
		default:
			return {
				status: error.status,
				headers: { "x-amzn-errortype": error.code },
				body: { message: error.message, Message: error.message },
			};
	}
}

function send(response: ServerResponse, reply: StandInResponse): void {
	const body =
		reply.body === undefined
			? ""
			: typeof reply.body === "string" || Buffer.isBuffer(reply.body)
				? reply.body
				: JSON.stringify(reply.body);
	const type = Buffer.isBuffer(reply.body)
		? "application/octet-stream"
		: typeof reply.body === "string" && reply.body.startsWith("<")
			? "text/xml"
			: "application/json";
	response.writeHead(reply.status ?? 200, {
		"content-type": type,
		"x-amzn-requestid": requestId(),
		...reply.headers,
	});
	response.end(body);
}

/** The region and service a request is signed for: `Credential=<key>/<date>/<region>/<service>/aws4_request`. */
function scopeOf(headers: IncomingMessage["headers"]): { region: string; service: string } {
	const [, region = "", service = ""] =
		headers.authorization?.match(/Credential=[^/]+\/[^/]+\/([^/]+)\/([^/]+)\//) ?? [];
	return { region, service };
}

export interface StandIn {
	url: string;
	/** The environment a child process needs to reach the stand-in and nothing else. */
	env: Record<string, string>;
	/** Every request, as "service:Operation", in order. */
	calls: string[];
	faults: Fault[];
	hooks: Map<string, Hook>;
	/** Every request's region, in order, beside `calls` (for counting requests per region). */
	regions: string[];
	/** Regions that do not answer: every request signed for one gets a 503, as an outage answers. */
	unreachableRegions: Set<string>;
	/** Milliseconds every answer is held back (a benchmark's network latency). */
	latency: { ms: number };
	/** Resolves when the `n`th request of an operation has arrived (counting from 1). */
	arrival: (operation: string, n?: number) => Promise<void>;
	stop: () => Promise<void>;
}

export async function startStandIn(services: Record<string, Service>): Promise<StandIn> {
	const calls: string[] = [];
	const regions: string[] = [];
	const unreachableRegions = new Set<string>();
	const latency = { ms: 0 };
	const faults: Fault[] = [];
	const hooks = new Map<string, Hook>();
	const sockets = new Set<Socket>();
	const waiting: { operation: string; n: number; resolve: () => void }[] = [];
	const hung: ServerResponse[] = [];

	const count = (operation: string) =>
		calls.filter((call) => call.endsWith(`:${operation}`)).length;
	const faultFor = (operation: string): Fault | undefined => {
		for (const fault of faults) {
			if (fault.operation !== operation || (fault.times ?? 1) <= 0) continue;
			if ((fault.after ?? 0) > 0) {
				fault.after = (fault.after ?? 0) - 1;
				return undefined;
			}
			fault.times = (fault.times ?? 1) - 1;
			return fault;
		}
		return undefined;
	};

	const server = createServer(async (incoming, response) => {
		const chunks: Buffer[] = [];
		for await (const chunk of incoming) chunks.push(chunk as Buffer);
		const body = Buffer.concat(chunks);
		const url = new URL(incoming.url ?? "/", "http://stand-in");
		const { region, service: serviceName } = scopeOf(incoming.headers);
		const service = services[serviceName];
		const isForm = String(incoming.headers["content-type"]).includes("x-www-form-urlencoded");
		const partial = {
			service: serviceName,
			region,
			method: incoming.method ?? "GET",
			path: decodeURIComponent(url.pathname),
			query: url.searchParams,
			headers: incoming.headers,
			body,
			params: new URLSearchParams(isForm ? body.toString() : ""),
		};
		if (service === undefined) {
			send(response, {
				status: 400,
				body: { message: `the stand-in has no service "${serviceName}"` },
			});
			return;
		}
		const operation = service.operation(partial);
		const request: StandInRequest = { ...partial, operation };
		calls.push(`${serviceName}:${operation}`);
		regions.push(region);
		if (latency.ms > 0) await Bun.sleep(latency.ms);
		if (unreachableRegions.has(region)) {
			const outage = new AwsError(
				service.protocol === "ec2" ? "Unavailable" : "ServiceUnavailableException",
				`The service is unavailable in ${region}.`,
				503,
			);
			send(response, errorResponse(service.protocol, outage));
			return;
		}
		for (const wait of waiting.filter(
			(w) => w.operation === operation && count(operation) >= w.n,
		)) {
			waiting.splice(waiting.indexOf(wait), 1);
			wait.resolve();
		}

		const fault = faultFor(operation);
		if (fault?.kind === "hang") {
			hung.push(response);
			return;
		}
		if (fault?.kind === "throttle") {
			send(
				response,
				errorResponse(
					service.protocol,
					new AwsError(THROTTLE_CODES[service.protocol], "Rate exceeded"),
				),
			);
			return;
		}
		if (fault?.kind === "error" && fault.error) {
			send(response, errorResponse(service.protocol, fault.error));
			return;
		}
		if (fault?.kind === "5xx") {
			send(
				response,
				errorResponse(
					service.protocol,
					new AwsError(
						service.protocol === "ec2" ? "InternalError" : "InternalServerException",
						"We encountered an internal error.",
						500,
					),
				),
			);
			return;
		}
		let reply: StandInResponse;
		try {
			const handler = service.handlers[operation];
			if (handler === undefined)
				throw new AwsError("InvalidAction", `the stand-in does not implement ${operation}`);
			reply = await handler(request);
		} catch (error) {
			// A bug of the stand-in itself is answered too (an unanswered request would only show as
			// the client's timeouts), and printed where the test's output shows it.
			if (!(error instanceof AwsError)) console.error(`stand-in ${operation}:`, error);
			const refusal =
				error instanceof AwsError
					? error
					: new AwsError("InternalFailure", `stand-in bug: ${(error as Error).message}`, 500);
			reply = errorResponse(service.protocol, refusal);
		}
		const hook = hooks.get(operation);
		const verdict = hook === undefined ? undefined : await hook(request);
		if (fault?.kind === "lost" || verdict === "drop") {
			incoming.socket.destroy();
			return;
		}
		send(response, reply);
	});
	server.on("connection", (socket) => {
		sockets.add(socket);
		socket.on("close", () => sockets.delete(socket));
	});
	server.on("clientError", (_error, socket) => socket.destroy());
	await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
	const { port } = server.address() as { port: number };
	const url = `http://127.0.0.1:${port}`;

	return {
		url,
		env: {
			AWS_ENDPOINT_URL: url,
			AWS_ACCESS_KEY_ID: "AKIASTANDIN000000000",
			AWS_SECRET_ACCESS_KEY: "stand-in-secret-never-printed",
			AWS_REGION: "us-east-1",
			AWS_EC2_METADATA_DISABLED: "true",
		},
		calls,
		regions,
		unreachableRegions,
		latency,
		faults,
		hooks,
		arrival: (operation, n = 1) =>
			count(operation) >= n
				? Promise.resolve()
				: new Promise((resolve) => waiting.push({ operation, n, resolve })),
		stop: async () => {
			for (const response of hung) response.destroy();
			for (const socket of sockets) socket.destroy();
			await new Promise<void>((resolve) => server.close(() => resolve()));
		},
	};
}

/**
 * A crash between two steps: `child` is killed (SIGKILL) once the stand-in
 * has done the `arrival`th request of `operation`, and that answer is
 * dropped. Resolves with the child's exit code, the stand-in's hooks cleared.
 */
export async function crashAfter(
	standIn: StandIn,
	child: { kill: (signal: "SIGKILL") => void; exited: Promise<number> },
	operation: string,
	arrival: number,
): Promise<number> {
	let seen = 0;
	standIn.hooks.set(operation, () => {
		if (++seen !== arrival) return undefined;
		child.kill("SIGKILL");
		return "drop";
	});
	const code = await child.exited;
	standIn.hooks.clear();
	return code;
}
