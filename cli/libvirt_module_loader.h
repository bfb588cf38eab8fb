// The rbdvol command's way to libvirt: librbdvol_libvirt.so
// (attach/libvirt_module.h), dlopened when a command first needs it, so that
// the commands that do not talk to libvirt start without it.
#pragma once

#include <memory>
#include <string>

#include "attach/hypervisor.h"
#include "attach/libvirt_module.h"
#include "status/status.h"

namespace rbdvol::cli {

// Loads the module at `path` (RTLD_NOW | RTLD_LOCAL) and returns its connect
// entry. ENOENT when it cannot be loaded (the message names `path` and
// dlerror's reason), ENOEXEC when it lacks an entry point, EPROTO when it is
// of another version (both named); on those failures it is unloaded again.
// Once loaded it stays loaded for the life of the process: the Hypervisors it
// makes run its code, and libvirt and GLib are not made to be unloaded.
Result<attach::LibvirtConnectFn> load_libvirt_module(const std::string& path);

// find_beside_executable("librbdvol_libvirt.so") (host/plugin_host.h).
std::string find_libvirt_module();

// attach::connect_libvirt(uri) through the module found by
// find_libvirt_module(), loaded on the first call (a failure to load is
// remembered and returned again).
Result<std::unique_ptr<attach::Hypervisor>> connect_libvirt(const std::string& uri);

}  // namespace rbdvol::cli
