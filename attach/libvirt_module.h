// librbdvol_libvirt.so: connect_libvirt (libvirt_hypervisor.cc) built as a
// module of its own, which the rbdvol command dlopens when a command first
// talks to libvirt. Linking libvirt into rbdvol itself would map libvirt and
// its ~60 libraries (GLib, GnuTLS, curl, ICU, ...) on every run, `--help`
// included, for a dozen milliseconds of relocations and page faults.
//
// This is not a public ABI like include/rbdvol/driver.h: the module is built
// in the same build, by the same compiler, as the rbdvol binary beside it, so
// the entry passes C++ types (std::string, Result, a Hypervisor object) as
// they are. The version is checked first all the same, so that a module left
// from another build is refused rather than called.
#pragma once

#include <memory>
#include <string>

#include "attach/hypervisor.h"
#include "status/status.h"

namespace rbdvol::attach {

// Changes whenever the Hypervisor interface, Status/Result or the entry below
// change.
inline constexpr int kLibvirtModuleVersion = 4;

inline constexpr char kLibvirtModuleFile[] = "librbdvol_libvirt.so";

// int rbdvol_libvirt_module_version(void): kLibvirtModuleVersion as built.
inline constexpr char kLibvirtModuleVersionSymbol[] = "rbdvol_libvirt_module_version";
using LibvirtModuleVersionFn = int (*)();

// Stores connect_libvirt(uri) in *out. Throws nothing. The Hypervisor it makes
// runs code of the module: the module must stay loaded while it lives.
inline constexpr char kLibvirtModuleConnectSymbol[] = "rbdvol_libvirt_connect";
using LibvirtConnectFn = void (*)(const std::string& uri, Result<std::unique_ptr<Hypervisor>>* out);

}  // namespace rbdvol::attach
