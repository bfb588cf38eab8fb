// Hypervisor on a real libvirt connection.
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <vector>

#include "attach/hypervisor.h"

namespace rbdvol::attach {

namespace {

using ConnectPtr = std::unique_ptr<virConnect, decltype(&virConnectClose)>;
using DomainPtr = std::unique_ptr<virDomain, decltype(&virDomainFree)>;
using CharPtr = std::unique_ptr<char, decltype(&free)>;
using SecretPtr = std::unique_ptr<virSecret, decltype(&virSecretFree)>;

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
    case VIR_ERR_NO_SECRET:
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

  Result<bool> is_persistent(const std::string& domain) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    int persistent = virDomainIsPersistent(dom->get());
    if (persistent < 0) return libvirt_error("domain " + domain);
    return persistent == 1;
  }

  Result<std::string> domain_xml(const std::string& domain, bool persistent) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    // The definition with its secure parts (graphics passwords): it is what
    // gets defined again after a patch, which must not lose them.
    CharPtr xml(virDomainGetXMLDesc(
                    dom->get(), persistent ? VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE : 0),
                &free);
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

  Result<std::vector<std::string>> list_domains() override {
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn_.get(), &doms, 0);
    if (n < 0) return libvirt_error("cannot list domains");
    std::vector<DomainPtr> owned;
    for (int i = 0; i < n; ++i) owned.emplace_back(doms[i], &virDomainFree);
    free(doms);
    std::vector<std::string> names;
    for (const auto& d : owned) {
      const char* name = virDomainGetName(d.get());
      if (name) names.push_back(name);
    }
    std::sort(names.begin(), names.end());
    return names;
  }

  Status define_domain(const std::string& domain_xml) override {
    virDomainPtr d = virDomainDefineXML(conn_.get(), domain_xml.c_str());
    if (!d) return libvirt_error("cannot define the domain");
    DomainPtr owned(d, &virDomainFree);
    return Status::Ok();
  }

  Result<std::string> secret_xml(const std::string& uuid) override {
    virSecretPtr s = virSecretLookupByUUIDString(conn_.get(), uuid.c_str());
    if (!s) return libvirt_error("secret " + uuid);
    SecretPtr secret(s, &virSecretFree);
    CharPtr xml(virSecretGetXMLDesc(secret.get(), 0), &free);
    if (!xml) return libvirt_error("cannot read the XML of secret " + uuid);
    return std::string(xml.get());
  }

  Status define_secret(const std::string& secret_xml) override {
    virSecretPtr s = virSecretDefineXML(conn_.get(), secret_xml.c_str(), 0);
    if (!s) return libvirt_error("cannot define the secret");
    SecretPtr owned(s, &virSecretFree);
    return Status::Ok();
  }

  Status set_secret_value(const std::string& uuid, const std::string& value) override {
    virSecretPtr s = virSecretLookupByUUIDString(conn_.get(), uuid.c_str());
    if (!s) return libvirt_error("secret " + uuid);
    SecretPtr secret(s, &virSecretFree);
    if (virSecretSetValue(secret.get(), reinterpret_cast<const unsigned char*>(value.data()),
                          value.size(), 0) < 0) {
      // libvirt's message names the secret, never the value.
      return libvirt_error("cannot set the value of secret " + uuid);
    }
    return Status::Ok();
  }

  Status block_resize(const std::string& domain, const std::string& target_dev,
                      uint64_t bytes) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    if (virDomainBlockResize(dom->get(), target_dev.c_str(), bytes, VIR_DOMAIN_BLOCK_RESIZE_BYTES) <
        0) {
      return libvirt_error("cannot tell domain " + domain + " that " + target_dev + " has " +
                           std::to_string(bytes) + " bytes");
    }
    return Status::Ok();
  }

  Status undefine_domain(const std::string& domain) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    if (virDomainUndefineFlags(dom->get(), 0) < 0) {
      return libvirt_error("cannot undefine domain " + domain);
    }
    return Status::Ok();
  }

  Status start_domain(const std::string& domain) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    if (virDomainCreate(dom->get()) < 0) return libvirt_error("cannot start domain " + domain);
    return Status::Ok();
  }

  Status destroy_domain(const std::string& domain) override {
    auto dom = lookup(domain);
    if (!dom.ok()) return dom.status();
    if (virDomainDestroy(dom->get()) < 0) {
      return libvirt_error("cannot destroy domain " + domain);
    }
    return Status::Ok();
  }

  Result<std::string> capabilities_xml() override {
    CharPtr xml(virConnectGetCapabilities(conn_.get()), &free);
    if (!xml) return libvirt_error("cannot read the host's capabilities");
    return std::string(xml.get());
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
