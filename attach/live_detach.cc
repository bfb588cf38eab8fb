#include "attach/live_detach.h"

#include <cerrno>
#include <chrono>
#include <thread>

namespace rbdvol::attach {

Result<bool> detach_live_and_wait(Hypervisor& hv, const std::string& domain,
                                  const std::string& disk_xml,
                                  const std::function<bool(const std::string&)>& still_attached,
                                  int wait_ms) {
  Status s = hv.detach_device(domain, disk_xml, true, false);
  if (!s.ok()) return s;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(wait_ms);
  for (;;) {
    auto now_xml = hv.domain_xml(domain, false);
    if (!now_xml.ok()) {
      // A domain that is gone has no QEMU left to hold the disk. Any other
      // failure says nothing about the disk: it is no "detached".
      if (now_xml.status().err() == ENOENT) return true;
      return now_xml.status().Prefixed("domain " + domain +
                                       ": the live detach was requested, but whether the guest "
                                       "let the disk go cannot be told");
    }
    if (!still_attached(*now_xml)) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace rbdvol::attach
