/**
 * IAM's evaluation of a role's policy statements for one request, as far as
 * the roles' conditions reach: the resource ARN against Resource, and the
 * condition operators the stack writes (StringEquals, StringEqualsIfExists,
 * StringLike, ForAllValues:/ForAnyValue:StringEquals, Null) over the request's
 * condition keys. An operator it does not know is an error, never a pass.
 * Explicit Deny wins, and nothing is allowed without a matching Allow.
 */
import { ACCOUNT, type Tagging } from "./world.ts";

export interface Statement {
	Sid?: string;
	Effect: "Allow" | "Deny";
	Action: string | string[];
	Resource: unknown;
	Condition?: Record<string, Record<string, string | string[]>>;
}

/** A request as IAM sees it: the action, the resource, and each condition key's values. */
export interface AuthorizationRequest {
	action: string;
	resource: string;
	keys: Record<string, string[]>;
}

/** A template value with the pseudo parameters and Fn::Join resolved (the stack is in us-east-1). */
function resolve(value: unknown): string {
	if (typeof value === "string") return value;
	const object = value as Record<string, unknown>;
	if (object && "Ref" in object) {
		const pseudo: Record<string, string> = {
			"AWS::Partition": "aws",
			"AWS::AccountId": ACCOUNT,
			"AWS::Region": "us-east-1",
			"AWS::URLSuffix": "amazonaws.com",
		};
		const resolved = pseudo[String(object.Ref)];
		if (resolved === undefined) throw new Error(`cannot resolve ${JSON.stringify(value)}`);
		return resolved;
	}
	if (object && "Fn::Join" in object) {
		const [separator, parts] = object["Fn::Join"] as [string, unknown[]];
		return parts.map(resolve).join(separator);
	}
	throw new Error(`cannot resolve ${JSON.stringify(value)}`);
}

/** IAM's wildcards: `*` any run of characters, `?` one. */
function globMatches(pattern: string, value: string): boolean {
	const source = pattern
		.split("")
		.map((c) => (c === "*" ? ".*" : c === "?" ? "." : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
		.join("");
	return new RegExp(`^${source}$`).test(value);
}

const list = (value: string | string[]) => [value].flat();

/** One condition operator over one key: whether it holds. */
function holds(operator: string, key: string, wanted: string[], request: AuthorizationRequest) {
	const values = request.keys[key];
	const present = values !== undefined && values.length > 0;
	const equalsAny = (value: string) => wanted.includes(value);
	switch (operator) {
		case "StringEquals":
			return present && values.some(equalsAny);
		case "StringEqualsIfExists":
			return !present || values.some(equalsAny);
		case "StringLike":
			return present && values.some((value) => wanted.some((w) => globMatches(w, value)));
		case "ForAllValues:StringEquals":
			return !present || values.every(equalsAny);
		case "ForAnyValue:StringEquals":
			return present && values.some(equalsAny);
		case "Null":
			return wanted.every((w) => (w === "true" ? !present : present));
		default:
			throw new Error(`test/aws/iam.ts does not evaluate the condition operator ${operator}`);
	}
}

function applies(statement: Statement, request: AuthorizationRequest): boolean {
	const actions = list(statement.Action);
	if (!actions.some((action) => globMatches(action, request.action))) return false;
	const resources = [statement.Resource].flat().map(resolve);
	if (!resources.some((resource) => globMatches(resource, request.resource))) return false;
	return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
		Object.entries(keys).every(([key, wanted]) => holds(operator, key, list(wanted), request)),
	);
}

/** Whether the statements allow the request (an Allow applies, no Deny does), and by which Sid. */
export function evaluate(
	statements: readonly Statement[],
	request: AuthorizationRequest,
): { allowed: boolean; by?: string } {
	if (statements.some((s) => s.Effect === "Deny" && applies(s, request))) return { allowed: false };
	const allow = statements.find((s) => s.Effect === "Allow" && applies(s, request));
	return allow ? { allowed: true, by: allow.Sid ?? "(no Sid)" } : { allowed: false };
}

/** A tagging as the authorization request of ec2:CreateTags it is. */
export function taggingRequest(tagging: Tagging): AuthorizationRequest {
	const keys: Record<string, string[]> = {
		"aws:TagKeys": Object.keys(tagging.requestTags),
	};
	for (const [key, value] of Object.entries(tagging.requestTags)) {
		keys[`aws:RequestTag/${key}`] = [value];
	}
	for (const [key, value] of Object.entries(tagging.resourceTags)) {
		keys[`aws:ResourceTag/${key}`] = [value];
	}
	if (tagging.createAction) keys["ec2:CreateAction"] = [tagging.createAction];
	return { action: "ec2:CreateTags", resource: tagging.resource, keys };
}
