// Keeping a Ceph key in a libvirt secret: the domain XML names the secret by
// uuid, so the key itself never appears in it.
#pragma once

#include <string>

#include "attach/hypervisor.h"
#include "status/status.h"

namespace rbdvol::attach {

struct CephSecret {
  std::string uuid;         // the backend's libvirt_secret_uuid
  std::string usage_name;   // e.g. "client.admin@fast"; an existing secret keeps its own
  std::string description;  // shown by virsh secret-list
  std::string key;          // the cephx key, base64; never printed
  // A digest of the key (not the key): a private secret's value cannot be
  // read back, so the definition records which key it holds.
  std::string key_digest;
};

// Makes the secret `secret.uuid` a private, persistent ceph secret holding
// `secret.key`. Returns "created", "updated" (definition or value changed)
// or "unchanged" (the definition is already as it should be and records the
// same key digest: nothing is written). Messages never contain the key.
Result<std::string> ensure_ceph_secret(Hypervisor& hv, const CephSecret& secret);

}  // namespace rbdvol::attach
