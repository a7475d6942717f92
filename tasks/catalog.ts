/**
 * Every task, in the order `bun task --list` shows them: name, doc, options,
 * dependencies, its page of the manual, and a lazy import of the body (the bb.edn
 * of this project).
 * The first line of a doc is its --list summary; the rest shows in --help.
 * Option specs live in project/options.ts, where the bodies take their types.
 */
import {
	accountOptions,
	buildOptions,
	cleanOptions,
	publishOptions,
	releaseOptions,
	rollbackOptions,
	sbomOptions,
	synthOptions,
	verifyOptions,
} from "./project/options.ts";
import type { OptionSpecs } from "./runner/options.ts";
import {
	type Catalog,
	defineTask as defineRunnerTask,
	type TaskDefinition,
} from "./runner/task.ts";

/** A page of the manual (docs/, one page per topic); catalog.test.ts checks that it exists. */
type ManualPage = `docs/${string}.md`;

/**
 * Declares one of this project's tasks: each must name the page of the manual
 * that explains it, which its --help ends with.
 */
function defineTask<O extends OptionSpecs = Record<never, never>>(
	definition: TaskDefinition<O> & { manual: ManualPage },
): TaskDefinition<O> {
	return defineRunnerTask(definition);
}

/** What the image builds refuse after --: they decide where nix writes, and must build. */
const OUT_LINK =
	"the task decides where nix writes the out-link (outputs/main/<image>/<system>/result).";
const NIX_BUILD_REFUSED = {
	"--out-link": OUT_LINK,
	"-o": OUT_LINK,
	"--no-link":
		"the out-link is the image's GC root and what its stable paths point into; the task needs it.",
	"--dry-run":
		"it builds nothing, and the task would report an image it did not build; --dry-run before -- prints the command instead.",
	"--store": "the image must land in this machine's store, where its GC root and stable paths are.",
	"--help": "it builds nothing; run `nix build --help` itself.",
	"--version": "it builds nothing; run `nix --version` itself.",
};

/** What deploy refuses after --: the assembly and the outputs file are synth's and publish's contract. */
const APP =
	"deploy deploys the assembly synth wrote (outputs/main/infrastructure); change settings with --context key=value instead.";
const OUTPUTS_FILE =
	"the stack's outputs go to outputs/main/infrastructure/<stack>.outputs.json, where the later tasks read them.";
const CDK_DEPLOY_REFUSED = {
	"--app": APP,
	"-a": APP,
	"--outputs-file": OUTPUTS_FILE,
	"-O": OUTPUTS_FILE,
};

const BUILD_NOTES = `Runs \`nix build <flake>#packages.<system>.<image>\` with flakes enabled on the command line,
streaming the build log. A failed build leaves the previous image in place. Arguments
after -- go to nix build: remote builders (--builders 'ssh://host aarch64-linux'),
--max-jobs, --keep-failed, --option …`;

export const catalog: Catalog = {
	clean: defineTask({
		manual: "docs/runner.md",
		doc: `Delete generated outputs: all of outputs/, or only one kind and/or system of it.
Nothing outside outputs/ is touched. Removing an image link also drops its Nix GC root,
so the next \`nix-collect-garbage\` may free the image.`,
		options: cleanOptions,
		load: () => import("./clean.ts"),
	}),
	analyze: defineTask({
		manual: "docs/development.md",
		doc: `Format and lint everything: Biome (with fixes), tsc --noEmit, and the Nix files.
Nix files are formatted with \`nix fmt\` where the flake has a formatter and Nix can fetch it;
otherwise every tracked .nix file is syntax-checked with \`nix-instantiate --parse\` and
checked for lines nixfmt would break (wider than its 100 columns).
Without nix on PATH the Nix part is skipped and reported, and the TypeScript checks still run.`,
		load: () => import("./analyze.ts"),
	}),
	"oci-container": defineTask({
		manual: "docs/images.md",
		doc: `Build the OCI container image with Nix: outputs/main/oci-container/<system>/nix.tar.gz.
A gzipped docker-archive (\`docker load\`, \`podman load\`); outputs/…/result is its GC root.
Then its SBOM beside it (sbom.cdx.json, as \`bun task sbom\` writes it).
${BUILD_NOTES}`,
		options: buildOptions,
		passthrough: "nix build",
		refusedArguments: NIX_BUILD_REFUSED,
		load: () => import("./oci-container.ts"),
	}),
	"virtual-machine": defineTask({
		manual: "docs/images.md",
		doc: `Build the NixOS EC2 disk image: outputs/main/virtual-machine/<system>/nixos.img.
A raw GPT/UEFI image with image-info.json beside it; the build needs KVM (a native builder).
Then its SBOM beside it (sbom.cdx.json, as \`bun task sbom\` writes it).
${BUILD_NOTES}`,
		options: buildOptions,
		passthrough: "nix build",
		refusedArguments: NIX_BUILD_REFUSED,
		load: () => import("./virtual-machine.ts"),
	}),
	images: defineTask({
		manual: "docs/images.md",
		doc: "Build both images for one system (oci-container, then virtual-machine).",
		depends: ["oci-container", "virtual-machine"],
	}),
	sbom: defineTask({
		manual: "docs/images.md",
		doc: `Write the CycloneDX 1.6 SBOM of each built image of one system: outputs/main/<image>/<system>/sbom.cdx.json.
The image builds write it too, after each successful build; this makes it again from what is built.
For the container, the closure of the image's contents; for the disk image, the closure of the
NixOS system. Each image package names those roots in nix-support/sbom-roots, so the closure is
read from the local store (\`nix path-info --json --recursive\`), without evaluating the flake.
Components carry Nix's name and version, a pkg:nix purl, the NAR's SHA-256, the store path and
the licenses the build recorded; the subject is the image: the OCI manifest digest, or the disk
image's SHA-256. The same build always gives the same bytes (no timestamp; the serial number is
a UUIDv5 of the subject's digest). An image that is not built is skipped, saying so; with none,
the task fails.`,
		options: sbomOptions,
		load: () => import("./sbom.ts"),
	}),
	synth: defineTask({
		manual: "docs/control-plane.md",
		doc: `Write the control plane's CloudFormation to outputs/main/infrastructure, as \`cdk synth\` would.
Byte for byte the CLI's cloud assembly, without credentials or network, with CloudFormation
validation and cdk-nag's AwsSolutions checks: any unacknowledged finding fails the task and
leaves the previous assembly in place. Skipped when nothing it is made from changed.
Context overrides go after --: bun task synth -- --context publicAmis=false`,
		options: synthOptions,
		passthrough: "cdk synth (--context key=value only)",
		load: () => import("./synth.ts"),
	}),
	deploy: defineTask({
		manual: "docs/control-plane.md",
		doc: `Deploy the control plane stack with the pinned \`cdk deploy\`, after synth.
Needs AWS credentials (checked first). Asks for approval of security-relevant changes only
at a terminal, never in CI. Writes the stack's outputs to
outputs/main/infrastructure/<stack>.outputs.json. No \`cdk bootstrap\` is needed.
Settings after -- (--context key=value) reach synth too, so the deployed template has them.`,
		depends: ["synth"],
		preflight: () => import("./aws/credentials.ts"),
		passthrough: "cdk deploy",
		refusedArguments: CDK_DEPLOY_REFUSED,
		forwardsTo: ["synth"],
		load: () => import("./deploy.ts"),
	}),
	publish: defineTask({
		manual: "docs/publishing.md",
		doc: `Publish this machine's images of one system to AWS: a private AMI and a container image.
vm: the disk image (outputs/main/virtual-machine/<system>/nixos.img, checked against
image-info.json) becomes an EBS snapshot through the EBS direct APIs (only blocks with data
are sent, each with its SHA-256), then an AMI registered in us-east-1 for Nitro and
Graviton, deprecated after --deprecate-days; ami.json records it.
container: the image's OCI layout is pushed with skopeo to the stack's ECR Public repository
under <nix version>-<build id>-<arch>, byte for byte, so the registry serves the build's own
digest; container.json records it. Moving tags (latest) are the release's job. What an
interrupted run needs to resume (client tokens, acknowledged blocks) stays in
outputs/main/virtual-machine/<system>/publish-state.json (mode 0600).
Needs AWS credentials and the deployed stack (bun task deploy). A re-run after a crash
finishes the job and duplicates nothing.`,
		options: publishOptions,
		preflight: () => import("./aws/credentials.ts"),
		load: () => import("./publish.ts"),
	}),
	release: defineTask({
		manual: "docs/releasing.md",
		doc: `Release what publish left: public AMIs in every region, the multi-arch container, release.json.
Works from outputs/main/*/<system>/ami.json and container.json alone (a machine without images),
each checked first against AWS and the registry (nothing else is believed; builds older than the
released ones are refused without --allow-older). Then a smoke test of each private AMI on EC2
(--no-smoke-test to skip): the boot marker must show on its console. Then Image Builder's
DistributeImage copies each AMI to every region of the stack's distribution configuration
(public when publicAmis), all systems at once, while podman joins the container images under
one OCI index. Last, the public pointers: the container tags <nix version> and latest.
Writes (last): outputs/main/release/index.html (the release page), then outputs/main/release.json.
A re-run after a crash finishes the job and duplicates nothing.`,
		options: releaseOptions,
		preflight: () => import("./aws/credentials.ts"),
		load: () => import("./release.ts"),
	}),
	"release-page": defineTask({
		manual: "docs/finding-images.md",
		doc: `Render the release page outputs/main/release/index.html from release.json, without AWS.
release writes it too; this renders it again, for instance from an older release's release.json:
per system the AMI id of every region with a launch link and the SSM parameter, the container's
pull commands and digests, a filter for the regions, the SBOMs and the other releases of the
history (with releases.json beside it, each kept release's page is rendered again too). Static
files with no external request.`,
		load: () => import("./release-page.ts"),
	}),
	verify: defineTask({
		manual: "docs/verifying.md",
		doc: `Check a release where users get it, in every region: exit 0 only when all of it holds.
Reads outputs/main/release.json (or --release FILE) and the stack's outputs, then, all regions at
once (at most 10 requests a second each, failing checks looked at again for --retry-for, 60s):
each AMI exists, is this account's, available, named as released, of its architecture, UEFI,
IMDSv2, ENA, SR-IOV, NitroTPM (x86-64), deprecated in the future, public exactly when publicAmis,
tagged; its root snapshot completed; image block public access off where public; each SSM
parameter holds exactly its AMI (aws:ec2:image) and no undeclared one is under the stack's path;
the container's release and moving tags serve the index, which lists exactly the recorded images.
--deep reads the source snapshots back and compares their bytes. --provenance checks the SBOMs
and attestations beside release.json (signed by this repository's pipeline, about the released
digests; --trusted-root from \`gh attestation trusted-root\`). A table (or --json) and the step
summary; exit 1 on a mismatch, 2 on usage errors, 3 when something could not be checked.`,
		options: verifyOptions,
		preflight: () => import("./aws/credentials.ts"),
		load: () => import("./verify.ts"),
	}),
	rollback: defineTask({
		manual: "docs/release-history.md",
		doc: `Put users back on an earlier release of the history: bun task rollback --to <release id> (or previous).
The history is outputs/main/release/releases.json with each release's release.json under
releases/<id>/ (release keeps it; the pipeline restores the published one first). The target is
verified first (its AMIs exist, are available and public where they were, its index is served);
one that fails is refused with the table and nothing moves. Then, as a release moves them: each
system's SSM parameter in every region, the moving tags, with --deprecate the left release's AMIs
(deprecated now, never deregistered), release.json, the history (the left release marked rolled
back) and the pages. Each step is keyed, so a re-run after a crash finishes the job; re-run it
with the release id it names, not previous. A rolled-back target needs --allow-rolled-back.
Exit 1 when the target fails its checks, 2 on usage errors, 3 when they could not be made.`,
		options: rollbackOptions,
		preflight: () => import("./aws/credentials.ts"),
		load: () => import("./rollback.ts"),
	}),
	account: defineTask({
		manual: "docs/retention.md",
		doc: `Check an AWS account before its first release: quotas, public sharing, encryption, regions.
Reads only: per region of the regions setting, whether it is enabled, the "Public AMIs" quota
and what uses it (the Recycle Bin's too), image block public access, EBS encryption by default
and its key; in us-east-1 where the smoke test can launch. --request-public-ami-quota N asks
Service Quotas for N where the quota is lower (once: not again while a request is open) and
prints the request ids.`,
		options: accountOptions,
		preflight: () => import("./aws/credentials.ts"),
		load: () => import("./account.ts"),
	}),
	prune: defineTask({
		manual: "docs/retention.md",
		doc: `Remove what retention keeps no more: old AMIs, failed publishes' snapshots, unkept container images.
Prints its plan first (--dry-run prints only that). In every region of the stack: each system's
AMIs beyond the newest lifecycleKeep (with their snapshots), never one the current release.json
or an SSM parameter names, nor one younger than a day; snapshots of this project no AMI uses,
older than a day; source AMIs of builds never released, older than lifecycleMaxAgeDays. In ECR
Public: the images of no kept release (the current one, the moving tags', the lifecycleKeep
newest release tags, each with its platform manifests). What is gone already counts as done.`,
		preflight: () => import("./aws/credentials.ts"),
		load: () => import("./prune.ts"),
	}),
	ship: defineTask({
		manual: "docs/releasing.md",
		doc: "Ship this machine's system end to end: deploy, build both images, publish them, release.",
		depends: ["deploy", "images", "publish", "release"],
	}),
	build: defineTask({
		manual: "docs/development.md",
		doc: "Build everything: analyze, both images, and the CloudFormation (synth).",
		depends: ["analyze", "images", "synth"],
	}),
};
