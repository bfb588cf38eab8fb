#!/usr/bin/env bash
# The quickstart: an image uploaded to backend fast, a shared volume cloned
# from it, attached to the running guests vm1 and vm2, and bytes written
# through vm1's QEMU read back through vm2's QEMU. Needs the sandbox
# (scripts/sandbox up) and a build (scripts/build).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
eval "$("$root/scripts/sandbox" env)"
rbdvol() { "$root/build/lib/rbdvol" "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
step() { printf '\n\033[1m%s\033[0m\n' "$*"; }

step "1. The backends"
rbdvol backend list

step "2. Upload a 64 MiB raw image to backend fast"
image_file=$(mktemp /tmp/rbdvol-quickstart-XXXXXX.raw)
trap 'rm -f "$image_file"' EXIT
head -c 8M /dev/urandom >"$image_file"
truncate -s 64M "$image_file"   # the rest is a hole: zero chunks are not written
image=$(rbdvol --json image upload "$image_file" --name quickstart-image --backend fast | json '["id"]')
rbdvol image list

step "3. Create a volume of disk type 'shared' from the image"
rbdvol volume create --type shared --image "$image" --name quickstart-volume | tee /tmp/rbdvol-quickstart.out
volume=$(awk '/^created volume/{print $3}' /tmp/rbdvol-quickstart.out)
rbdvol volume show "$volume"

step "4. Attach it to the running guests vm1 and vm2 as a shared disk"
rbdvol attach "$volume" vm1 vm2
echo "vm1's disk, as libvirt has it now:"
virsh dumpxml vm1 | awk -v img="volume-$volume" '/<disk /{buf=""; d=1} d{buf=buf $0 "\n"} /<\/disk>/{if (d && index(buf, img)) printf "%s", buf; d=0}'

# qemu-io through the QEMU monitor: no guest OS needed. What it prints goes to
# the guest's QEMU log, so read what each command added there.
node_of() { virsh qemu-monitor-command "$1" --hmp 'info block' | awk -F: -v img="volume-$volume" 'index($0, img) && /^[^ ]/ {print $1; exit}'; }
qemu_io() { # domain command
  local log=/var/log/libvirt/qemu/$1.log n
  n=$(wc -l <"$log")
  virsh qemu-monitor-command "$1" --hmp "qemu-io $(node_of "$1") \"$2\"" >/dev/null
  sleep 0.3
  tail -n +$((n + 1)) "$log" | grep -E "wrote|read|verification" || true
}

step "5. Write 64 KiB of 0xab at offset 1 MiB through vm1's QEMU"
qemu_io vm1 "write -P 0xab 1M 64k"

step "6. Read them back through vm2's QEMU (a mismatch would print 'Pattern verification failed')"
out=$(qemu_io vm2 "read -P 0xab 1M 64k")
echo "$out"
if grep -q "verification failed" <<<"$out" || ! grep -q "read 65536/65536" <<<"$out"; then
  echo "quickstart: vm2 did not read what vm1 wrote" >&2
  exit 1
fi
echo
echo "vm2 read the bytes vm1 wrote: one RBD volume, shared by two guests."

step "7. The same clusters through rbdvold and Debian's own cinder command"
# rbdvold on a free loopback port, noauth (the default, loopback only).
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$root/build/lib/rbdvold" --config "$RBDVOL_CONFIG" --listen "127.0.0.1:$port" >/tmp/rbdvold-quickstart.log 2>&1 &
rbdvold_pid=$!
trap 'kill "$rbdvold_pid" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 1)" 2>/dev/null && break
  sleep 0.2
done
cinder() { command cinder --os-auth-type noauth --os-endpoint "http://127.0.0.1:$port/v3" \
  --os-user-id quickstart --os-project-id quickstart --os-volume-api-version 3.50 "$@"; }
cinder create 1 --name quickstart-api --volume-type ssd >/dev/null
cinder_id=$(cinder list --name quickstart-api | awk '/quickstart-api/ {print $2; exit}')
for _ in $(seq 60); do
  status=$(cinder show "$cinder_id" | awk '$2 == "status" {print $4}')
  [ "$status" = creating ] || break
  sleep 1
done
cinder list --name quickstart-api
echo "rbdvol sees the same volume:"
rbdvol volume show "$cinder_id" | head -4
cinder delete "$cinder_id"
echo "rbdvold's log (one line per request): /tmp/rbdvold-quickstart.log"
kill "$rbdvold_pid"
wait "$rbdvold_pid" 2>/dev/null || true
trap - EXIT
echo "Volume $volume stays attached; 'build/lib/rbdvol detach $volume' detaches it,"
echo "'scripts/sandbox down' removes the whole sandbox."
