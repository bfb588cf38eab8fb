#include "cli/libvirt_module_loader.h"

#include <dlfcn.h>

#include "host/plugin_host.h"

namespace rbdvol::cli {

Result<attach::LibvirtConnectFn> load_libvirt_module(const std::string& path) {
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char* e = dlerror();
    return Status::Error(
        ENOENT, "cannot load the libvirt module " + path + ": " + (e ? e : "unknown error"));
  }
  auto fail = [&](int err, const std::string& message) -> Status {
    dlclose(handle);
    return Status::Error(err, "libvirt module " + path + ": " + message);
  };
  // The version comes first and is checked before anything else is used.
  auto version = reinterpret_cast<attach::LibvirtModuleVersionFn>(
      dlsym(handle, attach::kLibvirtModuleVersionSymbol));
  if (!version) {
    return fail(ENOEXEC, std::string("has no entry point ") + attach::kLibvirtModuleVersionSymbol);
  }
  if (int v = version(); v != attach::kLibvirtModuleVersion) {
    return fail(EPROTO, "has version " + std::to_string(v) + ", this rbdvol needs version " +
                            std::to_string(attach::kLibvirtModuleVersion) +
                            " (it is from another build)");
  }
  auto connect = reinterpret_cast<attach::LibvirtConnectFn>(
      dlsym(handle, attach::kLibvirtModuleConnectSymbol));
  if (!connect) {
    return fail(ENOEXEC, std::string("has no entry point ") + attach::kLibvirtModuleConnectSymbol);
  }
  return connect;
}

std::string find_libvirt_module() {
  return host::find_beside_executable(attach::kLibvirtModuleFile);
}

Result<std::unique_ptr<attach::Hypervisor>> connect_libvirt(const std::string& uri) {
  static const Result<attach::LibvirtConnectFn> connect =
      load_libvirt_module(find_libvirt_module());
  if (!connect.ok()) return connect.status();
  Result<std::unique_ptr<attach::Hypervisor>> hv =
      Status::Error(EIO, "the libvirt module answered nothing");
  (*connect)(uri, &hv);
  return hv;
}

}  // namespace rbdvol::cli
