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
				const parameter = parametersIn(world, region).get(Name);
				if (parameter === undefined) {
					throw new AwsError("ParameterNotFound", `Parameter ${Name} not found.`);
				}
				return { body: { Parameter: parameterJson(Name, parameter, region) } };
			},
			GetParametersByPath: ({ body, region }) => {
				const { Path, Recursive } = input(body);
				const prefix = String(Path).endsWith("/") ? Path : `${Path}/`;
				const found = [...parametersIn(world, region)].filter(
					([name]) =>
						name.startsWith(prefix) && (Recursive || !name.slice(prefix.length).includes("/")),
				);
				return {
					body: { Parameters: found.map(([name, p]) => parameterJson(name, p, region)) },
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
