// snapshot.delete: removes a snapshot. Its clones are flattened first, so no
// volume loses data; the answer names them. Deleting a snapshot that is
// already gone succeeds.
#include "plugin/ceph/clone_tree.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/naming.h"
#include "plugin/records/snapshot_lookup.h"

namespace rbdvol::plugin {

Result<Json> snapshot_delete(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto snapshot = locate_snapshot(driver, *id);
  if (!snapshot.ok()) {
    // ENOENT: found nowhere and every backend answered; that is "already gone".
    if (snapshot.status().err() == ENOENT) {
      auto uuid = uuid_from_id(*id, kSnapshotPrefix, "snapshot");
      return Json{{"id", uuid.ok() ? *uuid : *id},
                  {"deleted", false},
                  {"already_gone", true},
                  {"flattened", Json::array()}};
    }
    return snapshot.status();
  }
  const VolumeHandle& volume = snapshot->volume;
  const std::string where = "snapshot " + snapshot->uuid + " of volume " + volume.uuid +
                            " on backend " + volume.cluster->id();
  auto flattened = flatten_children(*volume.io, volume.rbd_name, snapshot->rbd_snap);
  if (!flattened.ok()) return flattened.status().Prefixed(where);
  Status s = remove_snapshot(*volume.io, volume.rbd_name, snapshot->rbd_snap);
  if (!s.ok()) return s.Prefixed(where);
  {
    auto image = open_image(*volume.io, volume.rbd_name, false);
    if (!image.ok()) return image.status().Prefixed(where);
    for (const auto& key :
         {snapshot_name_key(snapshot->uuid), snapshot_created_key(snapshot->uuid)}) {
      int r = as_errno((*image)->metadata_remove(key));
      if (r < 0 && r != -ENOENT) {
        return Status::Error(r, where + ": removed, but cannot remove its metadata " + key + ": " +
                                    ceph_strerror(r));
      }
    }
  }
  s = remove_snapshot_entry(*volume.io, snapshot->uuid);
  if (!s.ok()) return Status::Error(s.err(), where + ": removed, but " + s.message());
  return Json{{"id", snapshot->uuid}, {"volume", volume.uuid}, {"backend", volume.cluster->id()},
              {"deleted", true},      {"already_gone", false}, {"flattened", *flattened}};
}

}  // namespace rbdvol::plugin
