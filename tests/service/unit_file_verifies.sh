#!/bin/sh
# packaging/rbdvold.service passes `systemd-analyze verify`, with its
# ExecStart pointed at the rbdvold just built (verify checks that the command
# exists and is executable; the unit's own path is /usr/bin/rbdvold).
# Usage: unit_file_verifies.sh UNIT RBDVOLD
set -eu
unit=$1 rbdvold=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
grep -q '^ExecStart=/usr/bin/rbdvold --config /etc/rbdvol/rbdvol.conf$' "$unit"
sed "s|^ExecStart=/usr/bin/rbdvold|ExecStart=$rbdvold|" "$unit" > "$dir/rbdvold.service"
out=$(systemd-analyze verify "$dir/rbdvold.service" 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "$out"; exit 1; }
echo "rbdvold.service verifies"
