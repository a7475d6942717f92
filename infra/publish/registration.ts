/**
 * What RegisterImage is given for a system (the boot and hardware
 * attributes, the root device): publish registers it, and verify expects it
 * of every AMI of a release. Types only from the SDK: verify's code reaches
 * this without reaching RegisterImage (test/roles.test.ts ties roles to the
 * commands code imports).
 */
import type { RegisterImageCommandInput } from "@aws-sdk/client-ec2";
import { SYSTEM_ARCHITECTURES, type System } from "../vocabulary.ts";

export type Registration = Omit<
	RegisterImageCommandInput,
	"TagSpecifications" | "Name" | "Description"
>;

/** What RegisterImage is given for a system, besides the name, description and tags. */
export function registration(system: System, snapshotId: string): Registration {
	const architecture = SYSTEM_ARCHITECTURES[system].ec2;
	return {
		Architecture: architecture,
		BootMode: "uefi",
		EnaSupport: true,
		SriovNetSupport: "simple",
		ImdsSupport: "v2.0",
		// NitroTPM: x86-64 Nitro instances have it; it needs UEFI, which the image boots with.
		...(architecture === "x86_64" ? { TpmSupport: "v2.0" as const } : {}),
		VirtualizationType: "hvm",
		RootDeviceName: "/dev/xvda",
		BlockDeviceMappings: [
			{
				DeviceName: "/dev/xvda",
				Ebs: { SnapshotId: snapshotId, VolumeType: "gp3", DeleteOnTermination: true },
			},
		],
	};
}
