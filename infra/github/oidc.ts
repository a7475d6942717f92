import { RemovalPolicy } from "aws-cdk-lib";
import { type IOidcProvider, OidcProviderNative, WebIdentityPrincipal } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";

export const GITHUB_OIDC_ISSUER = "token.actions.githubusercontent.com";

export interface GitHubOidcProps {
	/** owner/name */
	repository: string;
	/** Reuse the account's provider (there can be only one per issuer) instead of creating it. */
	existingProviderArn?: string;
}

/**
 * GitHub Actions' OIDC provider, and the principals of one repository's jobs
 * running in one GitHub environment: each role under it trusts one
 * environment. The roles are made in this construct's scope (see stack.ts).
 */
export class GitHubOidc extends Construct {
	readonly provider: IOidcProvider;
	/** Whether this stack made the provider (else it is the account's, which the stack must leave alone). */
	readonly owned: boolean;
	readonly repository: string;

	constructor(scope: Construct, id: string, props: GitHubOidcProps) {
		super(scope, id);
		this.repository = props.repository;
		this.owned = props.existingProviderArn === undefined;
		if (props.existingProviderArn) {
			this.provider = OidcProviderNative.fromOidcProviderArn(
				this,
				"Provider",
				props.existingProviderArn,
			);
		} else {
			const provider = new OidcProviderNative(this, "Provider", {
				url: `https://${GITHUB_OIDC_ISSUER}`,
				clientIds: ["sts.amazonaws.com"],
			});
			// Other stacks and repositories of the account may come to rely on it.
			provider.applyRemovalPolicy(RemovalPolicy.RETAIN);
			this.provider = provider;
		}
	}

	/** The repository's jobs that run in `environment` (the token's subject names it). */
	principal(environment: string): WebIdentityPrincipal {
		return new WebIdentityPrincipal(this.provider.oidcProviderArn, {
			StringEquals: {
				[`${GITHUB_OIDC_ISSUER}:aud`]: "sts.amazonaws.com",
				[`${GITHUB_OIDC_ISSUER}:sub`]: `repo:${this.repository}:environment:${environment}`,
			},
		});
	}

	/** "from GitHub Actions (owner/name, environment X)", for role descriptions. */
	describe(environment: string): string {
		return `from GitHub Actions (${this.repository}, environment ${environment})`;
	}
}
