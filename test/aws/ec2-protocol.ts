/**
 * EC2's query protocol as the stand-in speaks it: replies in EC2's XML
 * namespace, and the list, filter and tag parameters of query requests.
 */
import { xmlEscape } from "./stand-in.ts";

const EC2_NAMESPACE = "http://ec2.amazonaws.com/doc/2016-11-15/";

export function ec2Reply(action: string, inner: string) {
	return {
		body: `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${EC2_NAMESPACE}"><requestId>stand-in</requestId>${inner}</${action}Response>`,
	};
}

/** `Prefix.1`, `Prefix.2`, … of a query request. */
export function listParam(params: URLSearchParams, prefix: string): string[] {
	const values: string[] = [];
	for (let i = 1; params.has(`${prefix}.${i}`); i++)
		values.push(params.get(`${prefix}.${i}`) ?? "");
	return values;
}

/** `Filter.N.Name` / `Filter.N.Value.M` as name → values. */
export function filters(params: URLSearchParams): Map<string, string[]> {
	const result = new Map<string, string[]>();
	for (let i = 1; params.has(`Filter.${i}.Name`); i++) {
		result.set(params.get(`Filter.${i}.Name`) ?? "", listParam(params, `Filter.${i}.Value`));
	}
	return result;
}

/** `Prefix.N.Key` / `Prefix.N.Value` as a tag map (e.g. TagSpecification.1.Tag, or Tag). */
export function tagsOf(params: URLSearchParams, prefix: string): Record<string, string> {
	const tags: Record<string, string> = {};
	for (let i = 1; params.has(`${prefix}.${i}.Key`); i++) {
		tags[params.get(`${prefix}.${i}.Key`) ?? ""] = params.get(`${prefix}.${i}.Value`) ?? "";
	}
	return tags;
}

/** Tags as EC2's `<tagSet>`. */
export function tagSet(tags: Record<string, string>): string {
	return `<tagSet>${Object.entries(tags)
		.map(
			([key, value]) =>
				`<item><key>${xmlEscape(key)}</key><value>${xmlEscape(value)}</value></item>`,
		)
		.join("")}</tagSet>`;
}
