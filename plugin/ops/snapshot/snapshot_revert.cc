// snapshot.revert: rolls a volume back to one of its snapshots (data and
// size). Refused while any guest has the volume attached or open: the guest
// would see its disk change under it.
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/ops/volume/volume_in_use.h"
#include "plugin/records/snapshot_lookup.h"

namespace rbdvol::plugin {

Result<Json> snapshot_revert(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto snapshot = locate_snapshot(driver, *id);
  if (!snapshot.ok()) return snapshot.status();
  const VolumeHandle& volume = snapshot->volume;
  const std::string where = "volume " + volume.uuid + " on backend " + volume.cluster->id();
  Status idle = require_not_in_use(*volume.io, volume.rbd_name, where, "revert it");
  if (!idle.ok()) return idle;
  auto image = open_image(*volume.io, volume.rbd_name, false);
  if (!image.ok()) return image.status().Prefixed(where);
  int r = as_errno((*image)->snap_rollback(snapshot->rbd_snap));
  if (r < 0) {
    return Status::Error(
        r, "cannot revert " + where + " to snapshot " + snapshot->uuid + ": " + ceph_strerror(r));
  }
  auto size = image_size(**image);
  if (!size.ok()) return size.status().Prefixed(where);
  return Json{{"id", snapshot->uuid},
              {"snapshot", snapshot->uuid},
              {"volume", volume.uuid},
              {"backend", volume.cluster->id()},
              {"size", *size}};
}

}  // namespace rbdvol::plugin
