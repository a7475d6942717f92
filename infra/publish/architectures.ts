/**
 * What each Nix system is called by EC2 and by OCI image platforms. The
 * systems themselves are listed in nix/systems.json; a test keeps the two equal.
 */
export const SYSTEM_ARCHITECTURES = {
	"x86_64-linux": { ec2: "x86_64", oci: "amd64" },
	"aarch64-linux": { ec2: "arm64", oci: "arm64" },
} as const;

export type System = keyof typeof SYSTEM_ARCHITECTURES;

export function isSystem(system: string): system is System {
	return system in SYSTEM_ARCHITECTURES;
}
