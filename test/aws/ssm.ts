/**
 * The stand-in's SSM Parameter Store (JSON 1.1), per region: the AMI
 * parameters Image Builder's distribution writes (data type aws:ec2:image),
 * read by release, verify and rollback, and written by rollback.
 */
import { AwsError, type Service } from "./stand-in.ts";
import type { World } from "./world.ts";

export interface ParameterRecord {
	value: string;
	dataType: string;
	version: number;
	lastModified: Date;
}

/** Whether a read misses the parameter (still unseen: eventual consistency); counts the read. */
function unseen(world: World, region: string, name: string): boolean {
	const key = `${region} ${name}`;
	const left = world.unkind.unseenParameterReads.get(key) ?? 0;
	if (left <= 0) return false;
	world.unkind.unseenParameterReads.set(key, left - 1);
	return true;
}

/** The parameters of `region`, made on first use. */
export function parametersIn(world: World, region: string): Map<string, ParameterRecord> {
	let parameters = world.parameters.get(region);
	if (parameters === undefined) {
		parameters = new Map();
		world.parameters.set(region, parameters);
	}
	return parameters;
}

/** PutParameter as SSM does it: a new version each time, aws:ec2:image values must name an AMI of that region. */
export function putParameter(
	world: World,
	region: string,
	name: string,
	value: string,
	dataType = "text",
	overwrite = true,
): ParameterRecord {
	const parameters = parametersIn(world, region);
	const existing = parameters.get(name);
	if (existing && !overwrite) {
		throw new AwsError("ParameterAlreadyExists", `The parameter ${name} already exists.`);
	}
	if (dataType === "aws:ec2:image") {
		const image = world.images.get(value);
		if (image === undefined || image.region !== region) {
			throw new AwsError(
				"ValidationException",
				`Parameter value ${value} is not a valid image ID in ${region}.`,
			);
		}
	}
	const record = {
		value,
		dataType,
		version: (existing?.version ?? 0) + 1,
		lastModified: new Date(),
	};
	parameters.set(name, record);
	return record;
}

function parameterJson(name: string, parameter: ParameterRecord, region: string) {
	return {
		Name: name,
		Type: "String",
		Value: parameter.value,
		Version: parameter.version,
		DataType: parameter.dataType,
		LastModifiedDate: parameter.lastModified.getTime() / 1000,
		ARN: `arn:aws:ssm:${region}:123456789012:parameter${name}`,
	};
}

export function ssmService(world: World): Service {
	const input = (body: Buffer) => (body.length > 0 ? JSON.parse(body.toString()) : {});
	return {
		protocol: "json",
		operation: ({ headers }) =>
			String(headers["x-amz-target"] ?? "")
				.split(".")
				.pop() ?? "",
		handlers: {
			GetParameter: ({ body, region }) => {
				const { Name } = input(body);
				const parameter = unseen(world, region, Name)
					? undefined
					: parametersIn(world, region).get(Name);
				if (parameter === undefined) {
					throw new AwsError("ParameterNotFound", `Parameter ${Name} not found.`);
				}
				return { body: { Parameter: parameterJson(Name, parameter, region) } };
			},
			GetParametersByPath: ({ body, region }) => {
				const { Path, Recursive, MaxResults, NextToken } = input(body);
				const prefix = String(Path).endsWith("/") ? Path : `${Path}/`;
				const found = [...parametersIn(world, region)].filter(
					([name]) =>
						name.startsWith(prefix) &&
						(Recursive || !name.slice(prefix.length).includes("/")) &&
						!unseen(world, region, name),
				);
				// Pages of MaxResults (SSM's default and maximum: 10), as SSM answers.
				const size = Math.min(Number(MaxResults ?? 10), 10);
				const start = NextToken ? Number(Buffer.from(NextToken, "base64").toString()) : 0;
				const page = found.slice(start, start + size);
				const next =
					start + size < found.length
						? Buffer.from(String(start + size)).toString("base64")
						: undefined;
				return {
					body: {
						Parameters: page.map(([name, p]) => parameterJson(name, p, region)),
						...(next ? { NextToken: next } : {}),
					},
				};
			},
			PutParameter: ({ body, region }) => {
				const { Name, Value, DataType, Overwrite } = input(body);
				const record = putParameter(world, region, Name, Value, DataType, Overwrite === true);
				return { body: { Version: record.version, Tier: "Standard" } };
			},
		},
	};
}
