#include "plugin/ops/volume/volume_in_use.h"

#include "plugin/ceph/rbd_image.h"
#include "plugin/records/attachments.h"

namespace rbdvol::plugin {

Status require_not_in_use(rados_ioctx_t io, const std::string& rbd_name, const std::string& where,
                          const std::string& action) {
  // Read-only: such an open does not watch the header, so it does not count
  // itself among the watchers.
  auto image = open_image(io, rbd_name, true);
  if (!image.ok()) return image.status().Prefixed(where);
  auto attachments = read_attachments(io, image->get());
  if (!attachments.ok()) return attachments.status().Prefixed(where);
  if (!attachments->empty()) {
    std::string domains;
    for (const auto& a : *attachments) domains += " " + a.value("domain", "?");
    return Status::Busy(where + " is attached to:" + domains + "; detach it first to " + action);
  }
  rbd_image_watcher_t watchers[16];
  size_t max = 16;
  int r = rbd_watchers_list(image->get(), watchers, &max);
  if (r < 0 && r != -ERANGE) {
    return Status::Error(
        r, where + ": cannot list the clients that have it open: " + ceph_strerror(r));
  }
  if (r == 0) rbd_watchers_list_cleanup(watchers, max);
  if (r == -ERANGE || max > 0) {
    return Status::Busy(where +
                        " is open by a client (a guest or another process); close it "
                        "first to " +
                        action);
  }
  return Status::Ok();
}

}  // namespace rbdvol::plugin
