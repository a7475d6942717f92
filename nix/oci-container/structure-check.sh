#!/usr/bin/env bash
# structure-check.sh ARCHIVE: checks a gzipped docker-archive of the nix image
# without running it (no KVM, no container runtime): users, nix.conf,
# certificates, /tmp, the Nix database, the tools and the image config.
# Needs coreutils, gnutar, gzip, jq, sqlite3, grep, gawk.
set -euo pipefail
archive=$1

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0
fail() {
	echo "structure-check: $*" >&2
	failures=$((failures + 1))
}

mkdir "$work/image"
tar -xzf "$archive" -C "$work/image"
manifest=$work/image/manifest.json
[ -f "$manifest" ] || { echo "structure-check: $archive has no manifest.json: not a docker-archive" >&2; exit 1; }

# Every layer's listing (mode, path, link target), paths without a leading ./ or /.
listing=$work/listing
: >"$listing"
mapfile -t layers < <(jq -r '.[0].Layers[]' "$manifest")
for layer in "${layers[@]}"; do
	tar -tvf "$work/image/$layer" |
		awk -v layer="$layer" '{
			mode = $1; path = $6; target = "";
			for (i = 7; i <= NF; i++) if ($i == "->") target = $(i + 1);
			sub(/^\.?\//, "", path); sub(/\/$/, "", path);
			print layer "\t" mode "\t" path "\t" target
		}' >>"$listing"
done

entry() { awk -F '\t' -v path="$1" '$3 == path' "$listing" | tail -n 1; }
exists() { [ -n "$(entry "$1")" ]; }
mode_of() { entry "$1" | cut -f 2; }
# The content of a file, read from the last layer that has it.
content() {
	local layer
	layer=$(entry "$1" | cut -f 1)
	[ -n "$layer" ] || return 1
	tar -xOf "$work/image/$layer" "$1" 2>/dev/null || tar -xOf "$work/image/$layer" "./$1"
}

for file in etc/passwd etc/group etc/shadow etc/nix/nix.conf; do
	exists "$file" || fail "/$file is missing"
	case $(mode_of "$file") in -*) ;; *) fail "/$file is not a regular file (derived images could not edit it)" ;; esac
done
passwd=$(content etc/passwd || true)
group=$(content etc/group || true)
nix_conf=$(content etc/nix/nix.conf || true)
grep -q '^root:x:0:0:' <<<"$passwd" || fail "/etc/passwd has no root user"
grep -q '^nobody:x:65534:' <<<"$passwd" || fail "/etc/passwd has no nobody user"
grep -q '^nixbld1:x:' <<<"$passwd" || fail "/etc/passwd has no nixbld build users"
grep -q '^nixbld:x:30000:nixbld1,' <<<"$group" || fail "/etc/group has no nixbld group with its members"
[ "$(mode_of etc/shadow)" = "-rw-r-----" ] || fail "/etc/shadow is $(mode_of etc/shadow), not -rw-r-----"
grep -q '^build-users-group = nixbld$' <<<"$nix_conf" || fail "nix.conf does not set build-users-group = nixbld"
grep -q '^sandbox = false$' <<<"$nix_conf" || fail "nix.conf does not set sandbox = false"
grep -q '^experimental-features = nix-command flakes$' <<<"$nix_conf" || fail "nix.conf does not enable flakes"

for dir in tmp var/tmp; do
	[ "$(mode_of "$dir")" = "drwxrwxrwt" ] || fail "/$dir is $(mode_of "$dir"), not drwxrwxrwt (1777)"
done

certificates=etc/ssl/certs/ca-bundle.crt
exists "$certificates" || fail "/$certificates is missing"
target=$(entry "$certificates" | cut -f 4)
if [ -n "$target" ]; then
	exists "${target#/}" || fail "/$certificates points to $target, which is not in the image"
fi
exists etc/ssl/certs/ca-certificates.crt || fail "/etc/ssl/certs/ca-certificates.crt is missing"

for tool in bin/sh bin/bash bin/nix bin/nix-build bin/git usr/bin/env; do
	exists "$tool" || fail "/$tool is missing"
done

if exists nix/var/nix/db/db.sqlite; then
	content nix/var/nix/db/db.sqlite >"$work/db.sqlite"
	valid=$(sqlite3 "$work/db.sqlite" 'select count(*) from ValidPaths')
	[ "$valid" -gt 0 ] || fail "the Nix database registers no store paths"
else
	fail "/nix/var/nix/db/db.sqlite is missing: the Nix database was not included"
fi

config=$work/image/$(jq -r '.[0].Config' "$manifest")
for variable in USER=root HOME=/root SSL_CERT_FILE=/$certificates NIX_SSL_CERT_FILE=/$certificates; do
	jq -e --arg v "$variable" '.config.Env | index($v)' "$config" >/dev/null || fail "the image config does not set $variable"
done

if [ "$failures" -gt 0 ]; then
	echo "structure-check: $failures problem(s) in $archive" >&2
	exit 1
fi
echo "structure-check: $archive is sound (${#layers[@]} layers)"
