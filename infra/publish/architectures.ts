/**
 * What each Nix system is called by EC2 and by OCI image platforms, and the
 * instance type its smoke test runs on. The systems themselves are listed in
 * nix/systems.json; a test keeps the two equal.
 */
export const SYSTEM_ARCHITECTURES = {
	// smoke: the smallest instance type that boots the AMI (Nitro, UEFI; NitroTPM on x86-64),
	// as NixOS/amis' smoke test uses; the publish role may launch only these.
	"x86_64-linux": { ec2: "x86_64", oci: "amd64", smoke: "t3.nano" },
	"aarch64-linux": { ec2: "arm64", oci: "arm64", smoke: "t4g.nano" },
} as const;

export type System = keyof typeof SYSTEM_ARCHITECTURES;
