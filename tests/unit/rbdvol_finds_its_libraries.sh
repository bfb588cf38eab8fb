#!/bin/sh
# rbdvol finds the plugin and the libvirt module with no --driver and no
# $RBDVOL_DRIVER in each layout host/plugin_host.cc looks in: beside the
# binary, in its ../lib/rbdvol (cmake --install, the Debian package) and in its
# ../lib (the build tree); and in none of them when they are elsewhere.
#   rbdvol_finds_its_libraries.sh RBDVOL PLUGIN LIBVIRT-MODULE
set -u
rbdvol=$1 plugin=$2 module=$3
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
unset RBDVOL_DRIVER
fail=0
# layout NAME LIBDIR: rbdvol in NAME/bin, both libraries in NAME/LIBDIR.
layout() {
  mkdir -p "$dir/$1/bin" "$dir/$1/$2"
  cp "$rbdvol" "$dir/$1/bin/rbdvol"
  cp "$plugin" "$module" "$dir/$1/$2/"
}
layout beside bin
layout installed lib/rbdvol
layout build lib
layout elsewhere lib/other
for name in beside installed build elsewhere; do
  # The plugin loads before the config is read.
  out=$("$dir/$name/bin/rbdvol" --config "$dir/absent.conf" backend list 2>&1)
  case $name:$out in
    elsewhere:*"cannot load plugin librbdvol_rbd.so"*) ;;
    elsewhere:*) echo "FAIL: $name: want 'cannot load plugin', got: $out"; fail=1 ;;
    *:*"cannot read config $dir/absent.conf"*) ;;
    *) echo "FAIL: $name: the plugin was not found: $out"; fail=1 ;;
  esac
  # audit on libvirt's in-process test driver needs the module, no daemon.
  out=$("$dir/$name/bin/rbdvol" --connect test:///default audit 2>&1)
  status=$?
  case $name:$status in
    elsewhere:0) echo "FAIL: $name: audit found a libvirt module: $out"; fail=1 ;;
    elsewhere:*) ;;
    *:0) ;;
    *) echo "FAIL: $name: audit without its libvirt module ($status): $out"; fail=1 ;;
  esac
done
[ $fail = 0 ] && echo "rbdvol finds its libraries beside itself, in ../lib/rbdvol and in ../lib"
exit $fail
