#!/usr/bin/env bash
# image-info.sh IMAGE LABEL SYSTEM: prints nixpkgs' image-info.json for a raw
# UEFI disk image, plus "format": "RAW" (read by NixOS/amis' upload-ami) and
# "sha256" (checked before publishing). Needs coreutils and jq.
set -euo pipefail
image=$1 label=$2 system=$3

bytes=$(stat -c %s "$image")
sha256=$(sha256sum "$image" | cut -d ' ' -f 1)
jq --null-input \
	--arg file "$image" \
	--arg nixos_label "$label" \
	--arg system "$system" \
	--arg bytes "$bytes" \
	--arg sha256 "$sha256" \
	'{
		"label": $nixos_label,
		"system": $system,
		"boot_mode": "uefi",
		"format": "RAW",
		"file": $file,
		"logical_bytes": $bytes,
		"sha256": $sha256,
		"disks": { "root": { "file": $file, "logical_bytes": $bytes } }
	}'
