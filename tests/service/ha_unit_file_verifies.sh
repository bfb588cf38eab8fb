#!/bin/sh
# packaging/rbdvol-ha-agent@.service passes `systemd-analyze verify` as an
# instance (node n1), with its ExecStart pointed at the rbdvol just built.
# Usage: ha_unit_file_verifies.sh UNIT RBDVOL
set -eu
unit=$1 rbdvol=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
grep -q '^ExecStart=/usr/bin/rbdvol --config /etc/rbdvol/rbdvol.conf ha agent --node %i$' "$unit"
sed "s|^ExecStart=/usr/bin/rbdvol |ExecStart=$rbdvol |" "$unit" > "$dir/rbdvol-ha-agent@.service"
out=$(systemd-analyze verify "$dir/rbdvol-ha-agent@n1.service" 2>&1) || { echo "$out"; exit 1; }
[ -z "$out" ] || { echo "$out"; exit 1; }
echo "rbdvol-ha-agent@.service verifies"
