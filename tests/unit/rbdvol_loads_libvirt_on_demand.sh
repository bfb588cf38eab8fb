#!/bin/sh
# rbdvol maps libvirt only for the commands that talk to it: not at start,
# not for another command, not for a command's help; and it does load
# librbdvol_libvirt.so for one that does (audit, on libvirt's in-process test
# driver: no daemon needed).
#   rbdvol_loads_libvirt_on_demand.sh PATH-OF-RBDVOL
set -u
rbdvol=$1
loaded() { LD_DEBUG=files "$rbdvol" "$@" 2>&1 >/dev/null | grep -o 'file=[^ ]*libvirt[^ ]*' | sort -u; }
fail=0
if ldd "$rbdvol" | grep libvirt; then echo "FAIL: rbdvol links libvirt"; fail=1; fi
for args in "--help" "attach --help" "xml patch /nonexistent --remove vda"; do
  # shellcheck disable=SC2086
  out=$(loaded $args)
  if [ -n "$out" ]; then echo "FAIL: rbdvol $args loaded: $out"; fail=1; fi
done
out=$(loaded --connect test:///default audit)
case $out in
  *librbdvol_libvirt.so*) ;;
  *) echo "FAIL: rbdvol audit did not load librbdvol_libvirt.so"; fail=1 ;;
esac
"$rbdvol" --connect test:///default audit || { echo "FAIL: rbdvol audit on test:///default"; fail=1; }
exit $fail
