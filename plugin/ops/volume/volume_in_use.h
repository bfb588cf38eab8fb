// Whether a volume is in use by a guest, for the operations that must not
// change a disk under one (revert, retype, delete).
#pragma once

#include <string>

#include "plugin/ceph/env.h"
#include "status/status.h"

namespace rbdvol::plugin {

// EBUSY when volume `rbd_name` in `io`'s pool has attachment records (the
// message names the domains) or is open by a client (a watcher on its
// header, such as a guest's QEMU), with "`where` ... detach it first before
// you `action`". Call it before opening the image read-write: such an open
// is a watcher too.
Status require_not_in_use(Pool& io, const std::string& rbd_name, const std::string& where,
                          const std::string& action);

}  // namespace rbdvol::plugin
