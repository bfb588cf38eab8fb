// Hypervisor on a real libvirt connection.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <memory>
#include <mutex>

#include "attach/hypervisor.h"

namespace rbdvol::attach {

namespace {

using ConnectPtr = std::unique_ptr<virConnect, decltype(&virConnectClose)>;
using DomainPtr = std::unique_ptr<virDomain, decltype(&virDomainFree)>;
using CharPtr = std::unique_ptr<char, decltype(&free)>;

// libvirt's last error for this thread, as text.
std::string last_libvirt_error() {
  virErrorPtr e = virGetLastError();
  return e && e->message ? e->message : "unknown libvirt error";
}

int errno_of_last_error() {
  virErrorPtr e = virGetLastError();
  if (!e) return EIO;
  switch (e->code) {
    case VIR_ERR_NO_DOMAIN:
      return ENOENT;
    case VIR_ERR_OPERATION_INVALID:
      return EINVAL;
    case VIR_ERR_NO_SUPPORT:
      return EOPNOTSUPP;
    case VIR_ERR_OPERATION_TIMEOUT:
      return ETIMEDOUT;
    case VIR_ERR_AUTH_FAILED:
    case VIR_ERR_OPERATION_DENIED:
      return EACCES;
    default:
      return EIO;
  }
}

Status libvirt_error(const std::string& context) {
  return Status::Error(errno_of_last_error(), context + ": " + last_libvirt_error());
}

class LibvirtHypervisor final : public Hypervisor {
 public:
  explicit LibvirtHypervisor(ConnectPtr conn) : conn_(std::move(conn)) {}

  Result<bool> is_running(const std::string& domain) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    int active = virDomainIsActive(dom->get());
    if (active < 0) return libvirt_error("domain " + domain);
    return active == 1;
  }

  Result<std::string> domain_xml(const std::string& domain, bool persistent) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    CharPtr xml(virDomainGetXMLDesc(dom->get(), persistent ? VIR_DOMAIN_XML_INACTIVE : 0), &free);
    if (!xml) return libvirt_error("cannot read the XML of domain " + domain);
    return std::string(xml.get());
  }

  Status attach_device(const std::string& domain, const std::string& device_xml, bool live,
                       bool persistent) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    if (virDomainAttachDeviceFlags(dom->get(), device_xml.c_str(), flags(live, persistent)) < 0) {
      return libvirt_error("cannot attach the disk to domain " + domain);
    }
    return Status::Ok();
  }

  Status detach_device(const std::string& domain, const std::string& device_xml, bool live,
                       bool persistent) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    if (virDomainDetachDeviceFlags(dom->get(), device_xml.c_str(), flags(live, persistent)) < 0) {
      return libvirt_error("cannot detach the disk from domain " + domain);
    }
    return Status::Ok();
  }

 private:
  static unsigned int flags(bool live, bool persistent) {
    return (live ? VIR_DOMAIN_AFFECT_LIVE : 0) | (persistent ? VIR_DOMAIN_AFFECT_CONFIG : 0);
  }

  Result<DomainPtr> lookup(const std::string& domain) {
    virDomainPtr d = virDomainLookupByName(conn_.get(), domain.c_str());
    if (!d) {
      return Status::Error(errno_of_last_error() == ENOENT ? ENOENT : EIO,
                           "domain " + domain + ": " + last_libvirt_error());
    }
    return DomainPtr(d, &virDomainFree);
  }

  ConnectPtr conn_;
};

// libvirt prints every error to stderr unless told otherwise; we report
// them ourselves, with context.
void quiet_libvirt_errors(void*, virErrorPtr) {}

}  // namespace

Result<std::unique_ptr<Hypervisor>> connect_libvirt(const std::string& uri) {
  static std::once_flag once;
  std::call_once(once, [] { virSetErrorFunc(nullptr, quiet_libvirt_errors); });
  virConnectPtr c = virConnectOpen(uri.empty() ? nullptr : uri.c_str());
  if (!c) {
    return Status::Error(ECONNREFUSED, "cannot connect to libvirt" +
                                           (uri.empty() ? std::string() : " at " + uri) + ": " +
                                           last_libvirt_error());
  }
  return std::unique_ptr<Hypervisor>(new LibvirtHypervisor(ConnectPtr(c, &virConnectClose)));
}

}  // namespace rbdvol::attach
