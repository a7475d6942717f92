/**
 * Tags shared by the stack and the publish step: the control plane selects and
 * scopes by them, the publish step sets them.
 */

/** On every snapshot, AMI and Image Builder image this project makes; IAM conditions check it. */
export const MANAGED_BY = { key: "ManagedBy", value: "nix-images" } as const;

/** The lifecycle policy selects the Image Builder images carrying this tag, with the stack's name as its value. */
export const LIFECYCLE_TAG_KEY = "nix-images:lifecycle";
