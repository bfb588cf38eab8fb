// The entry points of librbdvol_libvirt.so (attach/libvirt_module.h). Nothing
// else is exported (libvirt_module.map), and no exception leaves this file.
#include <exception>
#include <new>

#include "attach/libvirt_module.h"
#include "include/rbdvol/driver.h"

using rbdvol::Result;
using rbdvol::Status;
using rbdvol::attach::Hypervisor;

extern "C" RBDVOL_EXPORT int rbdvol_libvirt_module_version() {
  return rbdvol::attach::kLibvirtModuleVersion;
}

extern "C" RBDVOL_EXPORT void rbdvol_libvirt_connect(const std::string& uri,
                                                     Result<std::unique_ptr<Hypervisor>>* out) {
  try {
    *out = rbdvol::attach::connect_libvirt(uri);
  } catch (const std::bad_alloc&) {
    *out = Status::Error(ENOMEM, "connect to libvirt: out of memory");
  } catch (const std::exception& e) {
    *out = Status::Error(EIO, std::string("connect to libvirt: internal error: ") + e.what());
  }
}
