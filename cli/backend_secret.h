// A backend's libvirt ceph secret, defined from its key: what `rbdvol secret
// ensure` does, and `rbdvol vm define` before it defines a domain that needs it.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "attach/hypervisor.h"
#include "cli/command.h"

namespace rbdvol::cli {

// Makes the backend's libvirt_secret_uuid a private ceph secret holding the
// key of its rbd_user (plugin operation backend.auth, then
// attach::ensure_ceph_secret). Returns {"backend", "uuid", "usage",
// "result": "created"|"updated"|"unchanged"}. EINVAL when the backend has no
// libvirt_secret_uuid. The key is wiped from memory once handed over, and no
// message holds it.
Result<nlohmann::json> ensure_backend_secret(Context& ctx, attach::Hypervisor& hv,
                                             const std::string& backend);

}  // namespace rbdvol::cli
