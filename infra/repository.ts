import { RemovalPolicy, Stack } from "aws-cdk-lib";
import { CfnPublicRepository } from "aws-cdk-lib/aws-ecr";
import { Construct } from "constructs";
import { MANAGED_BY } from "./vocabulary.ts";

const ABOUT = `## Nix in a container

A small layered image with [Nix](https://nixos.org) and flakes enabled, built with Nix itself
for development and CI build environments: bash, coreutils, git, CA certificates, real
\`/etc/passwd\` with the \`nixbld\` build users, \`/tmp\` with mode 1777 and a Nix database that
registers every store path in the image. No nixpkgs channel is bundled; flakes pin their own.`;

const USAGE = `\`\`\`sh
docker run --rm -it public.ecr.aws/<alias>/nix nix run nixpkgs#hello
\`\`\`

The Nix sandbox is off (containers rarely allow its namespaces); run with
\`--privileged --env NIX_CONFIG='sandbox = true'\` to turn it on.`;

/** The ECR Public repository of the container image (catalog data shown on gallery.ecr.aws). */
export class PublicRepository extends Construct {
	readonly repositoryName: string;
	/**
	 * Built from the name rather than read from the resource: the ARN is known
	 * before the repository exists, so a role that creates it can be allowed to.
	 */
	readonly repositoryArn: string;
	readonly resource: CfnPublicRepository;

	constructor(scope: Construct, id: string, props: { repositoryName: string }) {
		super(scope, id);
		this.repositoryName = props.repositoryName;
		this.repositoryArn = Stack.of(this).formatArn({
			service: "ecr-public",
			region: "",
			resource: "repository",
			resourceName: props.repositoryName,
		});
		this.resource = new CfnPublicRepository(this, "Resource", {
			repositoryName: props.repositoryName,
			// Raw CloudFormation: the keys are PascalCase.
			repositoryCatalogData: {
				RepositoryDescription: "Nix with flakes enabled, in a small layered image built with Nix.",
				AboutText: ABOUT,
				UsageText: USAGE,
				Architectures: ["ARM 64", "x86-64"],
				OperatingSystems: ["Linux"],
			},
			tags: [MANAGED_BY],
		});
		// Deleting the stack must not delete published images that others pull.
		this.resource.applyRemovalPolicy(RemovalPolicy.RETAIN);
	}
}
