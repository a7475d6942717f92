/** ARN patterns that several constructs scope IAM statements to. */
import { Stack } from "aws-cdk-lib";
import type { IConstruct } from "constructs";

/**
 * Every EC2 image and snapshot in `region` ("*": any region). Their ARNs carry
 * no account, and their IDs exist only once they are made, so policies that
 * create them can only name the pattern (and narrow it with tag conditions).
 */
export function ec2ImageArns(
	scope: IConstruct,
	region: string,
): { image: string; snapshot: string } {
	const stack = Stack.of(scope);
	const pattern = (resource: string) =>
		stack.formatArn({ service: "ec2", account: "", region, resource, resourceName: "*" });
	return { image: pattern("image"), snapshot: pattern("snapshot") };
}

/** This stack in CloudFormation: its ARN ends in a generated ID, hence the wildcard. */
export function stackArnPattern(scope: IConstruct): string {
	const stack = Stack.of(scope);
	return stack.formatArn({
		service: "cloudformation",
		resource: "stack",
		resourceName: `${stack.stackName}/*`,
	});
}
