// volume.delete: removes a volume that no guest has attached and that has no
// snapshots. Deleting a volume that is already gone succeeds.
#include "plugin/attachments.h"
#include "plugin/catalog.h"
#include "plugin/naming.h"
#include "plugin/operations.h"
#include "plugin/rbd_image.h"
#include "plugin/request.h"

namespace rbdvol::plugin {

Result<Json> volume_delete(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto volume = locate_volume(driver, *id);
  if (!volume.ok()) {
    // Only "found nowhere and every backend answered" means already gone.
    if (volume.status().err() == ENOENT &&
        volume.status().message().find("not searched") == std::string::npos) {
      auto uuid = uuid_from_id(*id, kVolumePrefix, "volume");
      return Json{{"id", uuid.ok() ? *uuid : *id}, {"deleted", false}, {"already_gone", true}};
    }
    return volume.status();
  }
  const std::string where = "volume " + volume->uuid + " on backend " + volume->cluster->id();
  {
    auto image = open_image(volume->io.get(), volume->rbd_name, true);
    if (!image.ok()) return image.status().Prefixed(where);
    auto attachments = read_attachments(volume->io.get(), image->get());
    if (!attachments.ok()) return attachments.status().Prefixed(where);
    if (!attachments->empty()) {
      std::string domains;
      for (const auto& a : *attachments) domains += " " + a.value("domain", "?");
      return Status::Busy(where + " is attached to:" + domains + "; detach it first");
    }
    auto snaps = list_snapshots(image->get());
    if (!snaps.ok()) return snaps.status().Prefixed(where);
    if (!snaps->empty()) {
      std::string names;
      for (const auto& s : *snaps) names += " " + s.name;
      return Status::Busy(where + " has snapshots:" + names + "; delete them first");
    }
  }
  int r = rbd_remove(volume->io.get(), volume->rbd_name.c_str());
  if (r == -EBUSY) {
    return Status::Busy(where +
                        " is still open by a client (a guest or another process); "
                        "detach it from every guest first");
  }
  if (r < 0 && r != -ENOENT) {
    return Status::Error(r, "cannot remove " + where + ": " + ceph_strerror(r));
  }
  return Json{{"id", volume->uuid},
              {"deleted", r == 0},
              {"already_gone", r == -ENOENT},
              {"backend", volume->cluster->id()}};
}

}  // namespace rbdvol::plugin
