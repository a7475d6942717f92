/**
 * Asking AWS for a larger "Public AMIs" quota: `account
 * --request-public-ami-quota N`'s one write, kept apart from the reads in
 * quota.ts so that release and prune, which read the quota, cannot reach it.
 */
import {
	ListRequestedServiceQuotaChangeHistoryByQuotaCommand,
	RequestServiceQuotaIncreaseCommand,
	type ServiceQuotasClient,
} from "@aws-sdk/client-service-quotas";
import type { AwsCalls } from "../sdk/calls.ts";
import { QUOTA } from "./quota.ts";

/** A quota increase already asked for and not yet decided. */
const OPEN = new Set(["PENDING", "CASE_OPENED"]);

/**
 * Asks for the public-AMI quota to be `desired` in the client's region,
 * idempotent on the open requests: where one is open already (pending, or a
 * case opened), it is returned instead of asking again.
 */
export async function requestPublicAmiQuota(
	calls: AwsCalls,
	quotas: ServiceQuotasClient,
	desired: number,
): Promise<{ requestId: string; status: string; asked: boolean } | undefined> {
	const { RequestedQuotas } = await calls.read(
		quotas,
		new ListRequestedServiceQuotaChangeHistoryByQuotaCommand(QUOTA),
	);
	const open = (RequestedQuotas ?? []).find((request) => OPEN.has(request.Status ?? ""));
	if (open?.Id) return { requestId: open.Id, status: open.Status ?? "", asked: false };
	const answer = await calls.write(
		quotas,
		new RequestServiceQuotaIncreaseCommand({ ...QUOTA, DesiredValue: desired }),
	);
	const requested = answer?.RequestedQuota;
	if (requested?.Id === undefined) return undefined;
	return { requestId: requested.Id, status: requested.Status ?? "PENDING", asked: true };
}
