#!/usr/bin/env bash
# The Debian package installs on a fresh Debian 12 and puts everything in
# place: `deb_installs.sh DEB` (as root).
#
# A minimal bookworm (debootstrap --variant=minbase, from the mirror this
# machine's apt uses, plus systemd) is made once (again when a week old) in
# $RBDVOL_PKGTEST_CACHE (default /var/tmp/rbdvol-pkgtest) and copied afresh for
# every run, so each run starts
# from a system that has never seen the package; the .debs apt downloads are
# kept there too. In the copy, `apt-get install ./DEB` (dependencies from the
# mirror, no recommends), then checks: every file in place and no other, every
# ELF file's libraries found, `rbdvol --help` and `rbdvold --help`, the plugin
# and the libvirt module found by both commands, the pkg-config file's
# directories, the unit enabled by postinst and verified by systemd-analyze,
# an administrator's disable kept over a reinstall, then `apt-get remove`
# and `apt-get purge` taking the files, the enable symlink and
# deb-systemd-helper's state away. Every failed check is named; the exit
# status is 1 if any failed.
#
#   RBDVOL_DEBIAN_MIRROR=URL   the mirror (default: the host's, for bookworm)
#   RBDVOL_PKGTEST_CACHE=DIR   the cache (rm -rf it to start cold)
set -euo pipefail

usage() {
  echo "usage: $0 DEB" >&2
  exit 2
}
(($# == 1)) || usage
deb=$(realpath -e "$1") || usage
[[ $(id -u) -eq 0 ]] || {
  echo "deb_installs: must run as root (debootstrap, chroot, mount)" >&2
  exit 1
}
for tool in debootstrap chroot dpkg-deb flock; do
  command -v "$tool" >/dev/null || {
    echo "deb_installs: $tool is not installed (apt-get install debootstrap)" >&2
    exit 1
  }
done
[[ $(dpkg-deb -f "$deb" Package) == rbdvol ]] || {
  echo "deb_installs: $deb is not the rbdvol package" >&2
  exit 1
}

suite=bookworm
cache=${RBDVOL_PKGTEST_CACHE:-/var/tmp/rbdvol-pkgtest}
mkdir -p "$cache/archives/partial"
# One run at a time: the cache and the kept .debs are shared.
exec 9>"$cache/lock"
flock 9

say() { printf 'deb_installs: %s\n' "$*"; }
failures=()
# check_failed WHAT: a failed check, named; the run goes on.
check_failed() {
  failures+=("$1")
  printf 'deb_installs: FAILED: %s\n' "$1" >&2
}

# The host's Debian sources for $suite, $suite-updates and $suite-security,
# one "URI SUITE COMPONENTS..." line each, from one-line .list files and
# deb822 .sources files alike.
host_sources() {
  local f
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [[ -f $f ]] || continue
    awk -v s="$suite" '$1 == "deb" {
        i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
        if ($(i + 1) ~ "^" s "(-updates|-security)?$") {
          line = $i; for (j = i + 1; j <= NF; j++) line = line " " $j; print line } }' "$f"
  done
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v s="$suite" '
      function flush(  n, u, x, i, j) {
        if (types ~ /(^| )deb( |$)/ && enabled != "no") {
          n = split(uris, u, " "); split(suites, x, " ")
          for (i = 1; i <= n; i++) for (j in x)
            if (x[j] ~ "^" s "(-updates|-security)?$") print u[i], x[j], comps }
        types = uris = suites = comps = enabled = "" }
      /^[ \t]*$/ { flush(); next }
      /^#/ { next }
      { key = tolower($1); sub(/^[^:]*:[ \t]*/, "")
        if (key == "types:") types = $0; else if (key == "uris:") uris = $0
        else if (key == "suites:") suites = $0; else if (key == "components:") comps = $0
        else if (key == "enabled:") enabled = $0 }
      END { flush() }' "$f"
  done
}
mapfile -t sources < <(host_sources | sort -u)
if [[ -n ${RBDVOL_DEBIAN_MIRROR:-} ]]; then
  sources=("$RBDVOL_DEBIAN_MIRROR $suite main" "$RBDVOL_DEBIAN_MIRROR $suite-updates main")
fi
mirror=""
for s in "${sources[@]}"; do
  read -r uri s_suite _ <<<"$s"
  [[ $s_suite == "$suite" ]] && mirror=$uri
done
[[ -n $mirror ]] || {
  echo "deb_installs: no Debian mirror for $suite in /etc/apt/sources.list*;" \
    "set RBDVOL_DEBIAN_MIRROR" >&2
  exit 1
}

# remove_tree DIR: unmounts what is mounted under DIR (deepest first), then
# removes it; never a tree something is still mounted in (it could be the
# host's /dev).
remove_tree() {
  local dir=$1 m
  while read -r m; do
    umount "$m" || umount -l "$m" || true
  done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
  if awk -v d="$dir/" 'index($2, d) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    echo "deb_installs: still mounted under $dir, left in place" >&2
    return 1
  fi
  rm -rf --one-file-system "$dir"
}
# The cached minimal system: made once (in base.new, renamed when complete,
# so a half-made one is never used), and again when a week old (the mirror
# moves on).
base=$cache/base
if [[ -z $(find "$base/.rbdvol-pkgtest-complete" -mtime -7 2>/dev/null) ]]; then
  say "making a minimal $suite in $base from $mirror"
  remove_tree "$base"
  remove_tree "$base.new"
  start=$SECONDS
  if ! debootstrap --variant=minbase "$suite" "$base.new" "$mirror" >"$cache/debootstrap.log" 2>&1; then
    tail -30 "$cache/debootstrap.log" >&2
    echo "deb_installs: debootstrap $suite from $mirror failed (log: $cache/debootstrap.log)" >&2
    exit 1
  fi
  printf 'deb %s\n' "${sources[@]}" >"$base.new/etc/apt/sources.list"
  # minbase has no systemd; every installed Debian 12 has, and with it the
  # unit is verified where it is installed.
  cp -L /etc/resolv.conf "$base.new/etc/resolv.conf"
  mount -t proc proc "$base.new/proc"
  status=0
  chroot "$base.new" sh -c 'apt-get update && DEBIAN_FRONTEND=noninteractive \
    apt-get install -y --no-install-recommends systemd && apt-get clean' \
    >>"$cache/debootstrap.log" 2>&1 || status=$?
  umount "$base.new/proc"
  if ((status != 0)); then
    tail -30 "$cache/debootstrap.log" >&2
    echo "deb_installs: installing systemd in the new $suite failed (log: $cache/debootstrap.log)" >&2
    exit 1
  fi
  touch "$base.new/.rbdvol-pkgtest-complete"
  mv "$base.new" "$base"
  say "debootstrap and systemd took $((SECONDS - start)) s"
fi

# A run killed before its cleanup (a CTest timeout) left its tree: the lock
# says no run is going on now.
for stale in "$cache"/run.*; do
  if [[ -d $stale ]]; then remove_tree "$stale"; fi
done

root=$(mktemp -d "$cache/run.XXXXXX")
trap 'remove_tree "$root"' EXIT
trap 'exit 130' INT TERM
cp -a "$base/." "$root/"
rm -f "$root/.rbdvol-pkgtest-complete"
mount_in() { # mount_in TARGET MOUNT-ARGS...
  local target=$root/$1
  shift
  mount "$@" "$target"
}
mount_in proc -t proc proc
mount_in dev --bind /dev
mount_in dev/pts --bind /dev/pts
mount_in var/cache/apt/archives --bind "$cache/archives"
cp -L /etc/resolv.conf "$root/etc/resolv.conf"
pkgfile=/tmp/$(basename "$deb")
cp "$deb" "$root$pkgfile"

# in_root COMMAND...: runs it in the fresh system.
in_root() {
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}
# in_root_logged WHAT COMMAND...: runs it, its output in a log shown on failure.
in_root_logged() {
  local what=$1 log
  shift
  log=$cache/$(tr -c 'a-z0-9\n' - <<<"$what" | head -c 40).log
  if ! in_root "$@" >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "deb_installs: $what failed: $* (log: $log)" >&2
    exit 1
  fi
}

start=$SECONDS
in_root_logged "apt-get update" apt-get update
in_root_logged "apt-get install" apt-get install -y --no-install-recommends "$pkgfile"
say "installed with its dependencies in $((SECONDS - start)) s"

# shellcheck disable=SC2016 # dpkg-query's own ${...}
[[ $(in_root dpkg-query -W -f '${Status}' rbdvol) == "install ok installed" ]] ||
  check_failed "dpkg does not list rbdvol as installed"

# Every file the package must install, and no other.
expected_files=(
  /usr/bin/rbdvol
  /usr/bin/rbdvold
  /usr/lib/rbdvol/librbdvol_rbd.so
  /usr/lib/rbdvol/librbdvol_libvirt.so
  /usr/include/rbdvol/driver.h
  /usr/share/pkgconfig/rbdvol.pc
  /lib/systemd/system/rbdvold.service
  /lib/systemd/system/rbdvol-ha-agent@.service
  /usr/share/doc/rbdvol/README.md
  /usr/share/doc/rbdvol/ha.md
  /usr/share/doc/rbdvol/attach.md
  /usr/share/doc/rbdvol/config.md
  /usr/share/doc/rbdvol/driver-abi.md
  /usr/share/doc/rbdvol/xmlpatch.md
  /usr/share/doc/rbdvol/rest-api.md
  /usr/share/doc/rbdvol/examples/rbdvol.conf.example
)
for f in "${expected_files[@]}"; do
  if [[ ! -f $root$f ]]; then
    check_failed "$f is not installed"
  elif ! in_root dpkg -S "$f" >/dev/null 2>&1; then
    check_failed "$f is there but no package owns it"
  fi
done
for f in /usr/bin/rbdvol /usr/bin/rbdvold; do
  [[ -x $root$f ]] || check_failed "$f is not executable"
done
while read -r f; do
  [[ -f $root$f && ! -L $root$f ]] || continue
  printf '%s\n' "${expected_files[@]}" | grep -qxF "$f" || check_failed "$f is installed but not expected"
done < <(in_root dpkg -L rbdvol)

# The Depends are complete: every ELF file finds every library it needs.
for f in /usr/bin/rbdvol /usr/bin/rbdvold /usr/lib/rbdvol/librbdvol_rbd.so \
  /usr/lib/rbdvol/librbdvol_libvirt.so; do
  [[ -f $root$f ]] || continue
  missing=$(in_root ldd "$f" 2>&1 | grep 'not found' || true)
  [[ -z $missing ]] || check_failed "$f lacks libraries (the package's Depends are short): $missing"
done
say "Depends: $(dpkg-deb -f "$deb" Depends)"

# The commands run.
for cmd in rbdvol rbdvold; do
  if ! out=$(in_root "$cmd" --help 2>&1); then
    check_failed "$cmd --help exits non-zero: $out"
  elif ! grep -q "^usage: $cmd " <<<"$out"; then
    check_failed "$cmd --help prints no usage: $out"
  fi
done

# rbdvol finds its plugin: without a config, `backend list` fails only for
# the missing /etc/rbdvol/rbdvol.conf, with status 3 (not found, README).
status=0
out=$(in_root rbdvol backend list 2>&1) || status=$?
if [[ $status != 3 ]] || ! grep -q '/etc/rbdvol/rbdvol.conf' <<<"$out" ||
  grep -qi 'cannot load plugin\|cannot open shared' <<<"$out"; then
  check_failed "rbdvol backend list without a config: want status 3 naming /etc/rbdvol/rbdvol.conf, got $status: $out"
fi
say "rbdvol backend list (no config): $status: $out"
# ... and its libvirt module, which it loads only for the commands that need
# libvirt: without libvirtd the connection fails (status 6, unreachable), not
# the load.
status=0
out=$(in_root rbdvol --connect qemu:///system audit 2>&1) || status=$?
if [[ $status != 6 ]] || ! grep -q 'cannot connect to libvirt' <<<"$out"; then
  check_failed "rbdvol audit did not get as far as libvirt (want status 6, got $status): $out"
fi
say "rbdvol audit (no libvirtd): $status: $out"
# rbdvold finds the plugin too: it serves (a backend it cannot reach is
# only down), naming the plugin it loaded, until SIGTERM.
mkdir -p "$root/tmp/conf"
cat >"$root/tmp/conf/rbdvol.conf" <<'EOF2'
[DEFAULT]
enabled_backends = one
default_backend = one
rados_connect_timeout = 1

[one]
ceph_conf = /tmp/conf/absent-ceph.conf
volume_pool = volumes
image_pool = images
EOF2
status=0
out=$(in_root timeout -s TERM 5 rbdvold --config /tmp/conf/rbdvol.conf --listen 127.0.0.1:0 \
  --image-listen off 2>&1) || status=$?
grep -qF 'plugin /usr/bin/../lib/rbdvol/librbdvol_rbd.so,' <<<"$out" ||
  check_failed "rbdvold did not serve with /usr/bin/../lib/rbdvol/librbdvol_rbd.so (status $status): $out"
say "rbdvold (SIGTERM after 5 s): $status: $out"

# The pkg-config file's directories, resolved from where it is installed.
pc_var() { PKG_CONFIG_PATH=$root/usr/share/pkgconfig pkg-config --variable="$1" rbdvol; }
if command -v pkg-config >/dev/null; then
  [[ -f $(pc_var plugindir)/librbdvol_rbd.so ]] ||
    check_failed "rbdvol.pc: plugindir $(pc_var plugindir) has no librbdvol_rbd.so"
  [[ -f $(pc_var includedir)/rbdvol/driver.h ]] ||
    check_failed "rbdvol.pc: includedir $(pc_var includedir) has no rbdvol/driver.h"
fi

# The unit, enabled by postinst through deb-systemd-helper.
unit=/lib/systemd/system/rbdvold.service
wants=/etc/systemd/system/multi-user.target.wants/rbdvold.service
if [[ ! -L $root$wants ]]; then
  check_failed "postinst did not enable rbdvold.service: no $wants"
elif [[ $(readlink "$root$wants") != "$unit" ]]; then
  check_failed "$wants points to $(readlink "$root$wants"), not $unit"
fi
[[ -e $root/var/lib/systemd/deb-systemd-helper-enabled/rbdvold.service.dsh-also ]] ||
  check_failed "deb-systemd-helper keeps no state for rbdvold.service (purge could not undo the enable)"
if ! out=$(in_root systemd-analyze verify "$unit" 2>&1) || [[ -n $out ]]; then
  check_failed "systemd-analyze verify $unit: $out"
fi

# An administrator's disable survives a reinstall (postinst configure of an
# installed version). Without systemd running, `systemctl disable` is what it
# does for this unit: the symlink goes, deb-systemd-helper's state stays.
rm -f "$root$wants"
in_root_logged "dpkg reinstall" dpkg -i "$pkgfile"
if [[ -e $root$wants || -L $root$wants ]]; then
  check_failed "a reinstall enabled rbdvold.service again after the administrator disabled it"
else
  ln -s "$unit" "$root$wants" # enabled again, for purge to undo
fi

# remove takes the files; purge also the enable symlink and the state.
in_root_logged "apt-get remove" apt-get remove -y rbdvol
for f in "${expected_files[@]}"; do
  [[ ! -e $root$f ]] || check_failed "apt-get remove left $f"
done
in_root_logged "apt-get purge" apt-get purge -y rbdvol
# shellcheck disable=SC2016 # dpkg-query's own ${...}
left=$(in_root dpkg-query -W -f '${db:Status-Status}' rbdvol 2>/dev/null || true)
[[ -z $left || $left == not-installed ]] || check_failed "dpkg lists rbdvol as $left after purge"
for f in "$wants" /etc/systemd/system/rbdvold.service \
  /var/lib/systemd/deb-systemd-helper-enabled/rbdvold.service.dsh-also \
  /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/rbdvold.service \
  /var/lib/systemd/deb-systemd-helper-masked/rbdvold.service; do
  [[ ! -e $root$f && ! -L $root$f ]] || check_failed "apt-get purge left $f"
done

if ((${#failures[@]})); then
  echo "deb_installs: ${#failures[@]} check(s) failed:" >&2
  printf '  - %s\n' "${failures[@]}" >&2
  exit 1
fi
say "all checks passed ($(basename "$deb"))"
