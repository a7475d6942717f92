#!/usr/bin/env bash
# oci-layout.sh ARCHIVE OUT: an OCI image layout of a gzipped docker-archive,
# each layer compressed with `gzip -n -9` (no name, no time), so the manifest's
# digest is a property of the build: pushed with `skopeo copy --preserve-digests`,
# the registry serves exactly these bytes. Needs coreutils, gzip, tar and jq.
set -euo pipefail
archive=$1 out=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

gzip -dc "$archive" | tar -x -C "$work"
[ -f "$work/manifest.json" ] || {
	echo "oci-layout.sh: $archive has no manifest.json: not a docker-archive" >&2
	exit 1
}
mkdir -p "$out/blobs/sha256"

# blob FILE MEDIA-TYPE: moves FILE into the layout and prints its descriptor.
blob() {
	local digest size
	digest=$(sha256sum "$1" | cut -d ' ' -f 1)
	size=$(stat -c %s "$1")
	mv "$1" "$out/blobs/sha256/$digest"
	jq --null-input --compact-output --arg type "$2" --arg digest "sha256:$digest" --argjson size "$size" \
		'{mediaType: $type, digest: $digest, size: $size}'
}

layers=()
while IFS= read -r layer; do
	gzip -n -9 -c "$work/$layer" >"$work/layer.tar.gz"
	layers+=("$(blob "$work/layer.tar.gz" application/vnd.oci.image.layer.v1.tar+gzip)")
done < <(jq -r '.[0].Layers[]' "$work/manifest.json")

config_file=$work/$(jq -r '.[0].Config' "$work/manifest.json")
architecture=$(jq -r '.architecture' "$config_file")
os=$(jq -r '.os' "$config_file")
tag=$(jq -r '.[0].RepoTags[0] // "latest" | split(":") | last' "$work/manifest.json")
cp "$config_file" "$work/config"
config=$(blob "$work/config" application/vnd.oci.image.config.v1+json)

printf '%s\n' "${layers[@]}" |
	jq --slurp --compact-output --join-output --argjson config "$config" \
		'{schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: $config, layers: .}' \
		>"$work/manifest"
manifest=$(blob "$work/manifest" application/vnd.oci.image.manifest.v1+json)

jq --null-input --argjson manifest "$manifest" --arg tag "$tag" --arg architecture "$architecture" --arg os "$os" \
	'{schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json",
	  manifests: [$manifest + {platform: {architecture: $architecture, os: $os},
	                           annotations: {"org.opencontainers.image.ref.name": $tag}}]}' \
	>"$out/index.json"
printf '{"imageLayoutVersion":"1.0.0"}\n' >"$out/oci-layout"
