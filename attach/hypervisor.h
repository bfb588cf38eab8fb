// The narrow view of libvirt that attach needs, so that tests can stand in
// for it (as leveldb's Env does for files). LibvirtHypervisor is the real one.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "status/status.h"

namespace rbdvol::attach {

class Hypervisor {
 public:
  virtual ~Hypervisor() = default;

  // ENOENT when there is no such domain.
  virtual Result<bool> is_running(const std::string& domain) = 0;
  // False for a transient domain (running, with no definition to change).
  // ENOENT when there is no such domain.
  virtual Result<bool> is_persistent(const std::string& /*domain*/) { return true; }
  // The live XML (persistent = false) or the persistent definition.
  virtual Result<std::string> domain_xml(const std::string& domain, bool persistent) = 0;
  // Attaches / detaches one device to the live domain and/or its definition.
  virtual Status attach_device(const std::string& domain, const std::string& device_xml, bool live,
                               bool persistent) = 0;
  virtual Status detach_device(const std::string& domain, const std::string& device_xml, bool live,
                               bool persistent) = 0;

  // The rest has defaults that refuse (EOPNOTSUPP), so that a stand-in only
  // implements what its test needs.

  // The names of every domain, running or defined, sorted.
  virtual Result<std::vector<std::string>> list_domains() {
    return Status::Error(EOPNOTSUPP, "listing domains is not supported here");
  }
  // Replaces the persistent definition of a domain (virDomainDefineXML).
  virtual Status define_domain(const std::string& /*domain_xml*/) {
    return Status::Error(EOPNOTSUPP, "defining domains is not supported here");
  }
  // The XML of the secret with `uuid`; ENOENT when there is none.
  virtual Result<std::string> secret_xml(const std::string& /*uuid*/) {
    return Status::Error(EOPNOTSUPP, "secrets are not supported here");
  }
  // Defines (or redefines) a secret from its XML.
  virtual Status define_secret(const std::string& /*secret_xml*/) {
    return Status::Error(EOPNOTSUPP, "secrets are not supported here");
  }
  // Sets the value of the secret with `uuid`. Errors never contain `value`.
  virtual Status set_secret_value(const std::string& /*uuid*/, const std::string& /*value*/) {
    return Status::Error(EOPNOTSUPP, "secrets are not supported here");
  }
  // Tells the running domain that its disk `target_dev` now has `bytes`
  // (virDomainBlockResize): its guest sees the new size.
  virtual Status block_resize(const std::string& /*domain*/, const std::string& /*target_dev*/,
                              uint64_t /*bytes*/) {
    return Status::Error(EOPNOTSUPP, "resizing disks is not supported here");
  }
  // Removes the persistent definition of a shut-off domain
  // (virDomainUndefineFlags, keeping no managed save or snapshots).
  virtual Status undefine_domain(const std::string& /*domain*/) {
    return Status::Error(EOPNOTSUPP, "undefining domains is not supported here");
  }
  // The host's capabilities XML (virConnectGetCapabilities): its arch and the
  // domain types (kvm, qemu) each guest arch can run.
  virtual Result<std::string> capabilities_xml() {
    return Status::Error(EOPNOTSUPP, "capabilities are not supported here");
  }
  // Starts the defined, shut-off domain (virDomainCreate).
  virtual Status start_domain(const std::string& /*domain*/) {
    return Status::Error(EOPNOTSUPP, "starting domains is not supported here");
  }
  // Stops the running domain at once, as pulling its power would
  // (virDomainDestroy: QEMU gets SIGTERM, then SIGKILL if it lingers).
  virtual Status destroy_domain(const std::string& /*domain*/) {
    return Status::Error(EOPNOTSUPP, "destroying domains is not supported here");
  }
};

// Connects to libvirt at `uri` ("" = libvirt's default, qemu:///system as
// root). Errors carry libvirt's own message.
Result<std::unique_ptr<Hypervisor>> connect_libvirt(const std::string& uri);

}  // namespace rbdvol::attach
