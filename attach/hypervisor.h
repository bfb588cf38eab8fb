// The narrow view of libvirt that attach needs, so that tests can stand in
// for it (as leveldb's Env does for files). LibvirtHypervisor is the real one.
#pragma once

#include <memory>
#include <string>

#include "status/status.h"

namespace rbdvol::attach {

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // ENOENT when there is no such domain.
  virtual Result<bool> is_running(const std::string& domain) = 0;
  // The live XML (persistent = false) or the persistent definition.
  virtual Result<std::string> domain_xml(const std::string& domain, bool persistent) = 0;
  // Attaches / detaches one device to the live domain and/or its definition.
  virtual Status attach_device(const std::string& domain, const std::string& device_xml, bool live,
                               bool persistent) = 0;
  virtual Status detach_device(const std::string& domain, const std::string& device_xml, bool live,
                               bool persistent) = 0;
};

// Connects to libvirt at `uri` ("" = libvirt's default, qemu:///system as
// root). Errors carry libvirt's own message.
Result<std::unique_ptr<Hypervisor>> connect_libvirt(const std::string& uri);

}  // namespace rbdvol::attach
