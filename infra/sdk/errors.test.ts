import { describe, expect, test } from "bun:test";
import { EC2ServiceException } from "@aws-sdk/client-ec2";
import { describeAwsRefusal } from "./errors.ts";
import { DEFAULT_RETRY_POLICY, RetryBudget } from "./retry.ts";

const refusal = (name: string, message: string) =>
	new EC2ServiceException({
		name,
		$fault: "client",
		$metadata: { httpStatusCode: 400 },
		message,
	});

describe("describeAwsRefusal", () => {
	test("names the call (from the retry budget), the code and message, and what to do", async () => {
		const budget = new RetryBudget(DEFAULT_RETRY_POLICY);
		const error = await budget
			.call("RunInstances", async () => {
				throw refusal("UnauthorizedOperation", "You are not authorized to perform this operation.");
			})
			.catch((e) => e);
		expect(describeAwsRefusal(error)).toBe(
			"AWS refused RunInstances (UnauthorizedOperation: You are not authorized to perform this operation); the credentials may not do this: deploy the stack again (`bun task deploy`) so its roles match this version, or use credentials that may.",
		);
	});
	test("has advice for expired credentials and for an AMI that no longer exists", () => {
		expect(
			describeAwsRefusal(
				refusal("ExpiredToken", "The security token included in the request is expired"),
			),
		).toContain("the credentials expired or are not valid: sign in (or assume the role) again");
		expect(
			describeAwsRefusal(refusal("InvalidAMIID.NotFound", "The image id '[ami-1]' does not exist")),
		).toContain("publish that system again (`bun task publish --system <system>`)");
		expect(describeAwsRefusal(refusal("SomethingElse", "Nope."))).toBe(
			"AWS refused a call (SomethingElse: Nope); fix what it says and run the task again.",
		);
	});
	test("is nothing for errors that are no AWS answer", () => {
		expect(describeAwsRefusal(new Error("disk full"))).toBeUndefined();
		expect(describeAwsRefusal("text")).toBeUndefined();
	});
});
