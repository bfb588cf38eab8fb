#!/bin/sh
# The copy engine's threads under ThreadSanitizer, on the sandbox's clusters,
# through the C host and the plugin of build-tsan/ (scripts/sanitize tsan test
# runs it): an upload of a sparse file with data in several chunks, a copy of
# the image to the other cluster, verify on both, a download (bytes compared),
# a checksum of the local file, then a volume of the hdd type from an image
# only the fast backend holds (copy, then clone), and everything deleted.
#   copy_engine_run.sh HOST PLUGIN          (needs RBDVOL_CONFIG)
# Fails on the first operation that fails or bytes that differ; TSan's
# reports go where TSAN_OPTIONS says.
set -eu
host=$1 plugin=$2
: "${RBDVOL_CONFIG:?run eval \"\$(scripts/sandbox env)\" first}"
work=$(mktemp -d "${TMPDIR:-/tmp}/rbdvol-tsan.XXXXXX")
image= volume= image2=
cleanup() {
  [ -z "$volume" ] || "$host" "$plugin" "$RBDVOL_CONFIG" volume.delete "{\"id\":\"$volume\"}" >/dev/null 2>&1 || true
  for i in $image $image2; do
    "$host" "$plugin" "$RBDVOL_CONFIG" image.delete "{\"id\":\"$i\",\"force\":true}" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
call() {  # call OP REQUEST: the answer on stdout
  "$host" "$plugin" "$RBDVOL_CONFIG" "$1" "$2" 2>"$work/stderr" || {
    echo "copy_engine_run: $1 $2 failed:" >&2
    cat "$work/stderr" >&2
    exit 1
  }
}
id_of() { sed -n 's/.*"id":"\([^"]*\)".*/\1/p' | head -1; }

# 40 MiB, sparse: data at 0, at 9 MiB and at the end; holes elsewhere.
f=$work/in.raw
head -c 3145728 /dev/urandom >"$f"
dd if=/dev/urandom of="$f" bs=1M seek=9 count=5 conv=notrunc status=none
dd if=/dev/urandom of="$f" bs=1M seek=39 count=1 conv=notrunc status=none

image=$(call image.upload "{\"path\":\"$f\",\"name\":\"tsan-copy-engine\",\"backend\":\"fast\"}" | id_of)
[ -n "$image" ] || { echo "copy_engine_run: no image id from image.upload" >&2; exit 1; }
call image.copy "{\"id\":\"$image\",\"to\":\"capacity\"}" >/dev/null
call image.verify "{\"id\":\"$image\"}" >/dev/null
call image.download "{\"id\":\"$image\",\"path\":\"$work/out.raw\"}" >/dev/null
cmp "$f" "$work/out.raw" || { echo "copy_engine_run: the download differs from the upload" >&2; exit 1; }
call image.checksum "{\"path\":\"$f\"}" >/dev/null

# A volume of a type only the other cluster serves, from an image only the
# fast backend holds: the plugin copies it over first.
image2=$(call image.upload "{\"path\":\"$f\",\"name\":\"tsan-copy-engine-2\",\"backend\":\"fast\"}" | id_of)
volume=$(call volume.create "{\"disk_type\":\"hdd\",\"image\":\"$image2\",\"name\":\"tsan-copy-engine\"}" | id_of)
[ -n "$volume" ] || { echo "copy_engine_run: no volume id from volume.create" >&2; exit 1; }
echo "copy_engine_run: upload, copy, verify, download, checksum, volume from a copied image: ok"
