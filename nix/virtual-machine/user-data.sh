# Runs EC2 user-data if it is a #! script (plain or gzipped); says why it does
# nothing otherwise. Usage: user-data.sh <user-data file> <private work directory>
set -euo pipefail

user_data=$1
work=$2

if [ ! -s "$user_data" ]; then
	echo "user-data: none was given."
	exit 0
fi

# EC2 hands user-data over as given; tools often gzip it (cloud-init takes both).
script="$work/user-data"
if [ "$(head -c 2 "$user_data" | od -An -tx1 | tr -d ' \n')" = "1f8b" ]; then
	gzip -dc "$user_data" >"$script"
else
	cp "$user_data" "$script"
fi

if [ "$(head -c 2 "$script")" != "#!" ]; then
	echo "user-data: it is not a script (it does not start with #!), so it was ignored; this image runs only #! scripts, not cloud-config or Nix expressions."
	exit 0
fi
chmod 0700 "$script"

read -r shebang <"$script"
read -r interpreter _ <<<"${shebang#\#!}"
if [ -x "$interpreter" ]; then
	echo "user-data: running the script with $interpreter."
	exec "$script"
fi
case "$interpreter" in
*/sh | */bash)
	# NixOS has /bin/sh but no /bin/bash: run such scripts with bash.
	echo "user-data: $interpreter does not exist here; running the script with bash."
	exec bash "$script"
	;;
esac
echo "user-data: the script's interpreter $interpreter does not exist on this image; use #!/bin/sh, #!/usr/bin/env bash, or an interpreter the image has." >&2
exit 1
