import { RemovalPolicy } from "aws-cdk-lib";
import { type IOidcProvider, OidcProviderNative, WebIdentityPrincipal } from "aws-cdk-lib/aws-iam";
import { Construct } from "constructs";

export const GITHUB_OIDC_ISSUER = "token.actions.githubusercontent.com";

export interface GitHubOidcProps {
	/** owner/name */
	repository: string;
	environment: string;
	/** Reuse the account's provider (there can be only one per issuer) instead of creating it. */
	existingProviderArn?: string;
}

/**
 * GitHub Actions' OIDC provider, and the principal of one repository's jobs
 * running in one GitHub environment: the only ones the roles under it trust.
 * The roles are made in this construct's scope (see stack.ts).
 */
export class GitHubOidc extends Construct {
	readonly provider: IOidcProvider;
	readonly principal: WebIdentityPrincipal;
	readonly repository: string;
	readonly environment: string;

	constructor(scope: Construct, id: string, props: GitHubOidcProps) {
		super(scope, id);
		this.repository = props.repository;
		this.environment = props.environment;
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
		this.principal = new WebIdentityPrincipal(this.provider.oidcProviderArn, {
			StringEquals: {
				[`${GITHUB_OIDC_ISSUER}:aud`]: "sts.amazonaws.com",
				[`${GITHUB_OIDC_ISSUER}:sub`]: `repo:${props.repository}:environment:${props.environment}`,
			},
		});
	}

	/** "from GitHub Actions (owner/name, environment X)", for role descriptions. */
	describe(): string {
		return `from GitHub Actions (${this.repository}, environment ${this.environment})`;
	}
}
