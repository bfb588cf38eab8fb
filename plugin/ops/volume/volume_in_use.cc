#include "plugin/ops/volume/volume_in_use.h"

#include "plugin/ceph/rbd_image.h"
#include "plugin/records/attachments.h"

namespace rbdvol::plugin {

Status require_not_in_use(Pool& io, const std::string& rbd_name, const std::string& where,
                          const std::string& action) {
  // Read-only: such an open does not watch the header, so it does not count
  // itself among the watchers.
  auto image = open_image(io, rbd_name, true);
  if (!image.ok()) return image.status().Prefixed(where);
  auto attachments = read_attachments(io, **image);
  if (!attachments.ok()) return attachments.status().Prefixed(where);
  if (!attachments->empty()) {
    std::string domains;
    for (const auto& a : *attachments) domains += " " + a.value("domain", "?");
    return Status::Busy(where + " is attached to:" + domains + "; detach it first to " + action);
  }
  auto watchers = (*image)->watchers();
  if (!watchers.ok()) {
    const int r = watchers.status().err();
    return Status::Error(
        r, where + ": cannot list the clients that have it open: " + ceph_strerror(r));
  }
  if (!watchers->empty()) {
    return Status::Busy(where +
                        " is open by a client (a guest or another process); close it "
                        "first to " +
                        action);
  }
  return Status::Ok();
}

}  // namespace rbdvol::plugin
