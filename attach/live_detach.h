// Taking a disk out of a running domain. A live detach is a request to the
// guest: a virtio unplug needs the guest's answer (one without an OS never
// gives it), a virtio-scsi disk goes at once.
#pragma once

#include <functional>
#include <string>

#include "attach/hypervisor.h"

namespace rbdvol::attach {

// Detaches `disk_xml` from the live `domain`, then waits up to `wait_ms` for
// `still_attached(live_xml)` to turn false. True when the guest let the disk
// go in time (or the domain is gone: ENOENT from reading its XML), false when
// it still holds it; an error when the detach itself was refused, or when the
// live XML cannot be read for another reason (never taken for "detached").
Result<bool> detach_live_and_wait(Hypervisor& hv, const std::string& domain,
                                  const std::string& disk_xml,
                                  const std::function<bool(const std::string&)>& still_attached,
                                  int wait_ms);

}  // namespace rbdvol::attach
