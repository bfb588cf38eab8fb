// snapshot.create: an RBD snapshot snapshot-<uuid> of a volume, with its name
// and time in the volume's metadata and its entry in the pool's snapshot
// directory (snapshot_lookup.h). All or nothing: a snapshot whose metadata or
// entry cannot be written is removed again.
#include "plugin/fault_injection.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/naming.h"
#include "plugin/records/snapshot_lookup.h"

namespace rbdvol::plugin {

namespace {

Status record_snapshot(rbd_image_t image, const VolumeHandle& volume, const std::string& uuid,
                       const std::string& name) {
  Status s = inject_fault("snapshot.create:after-snapshot");
  if (s.ok()) s = metadata_set(image, snapshot_name_key(uuid), name);
  if (s.ok()) s = metadata_set(image, snapshot_created_key(uuid), utc_now_iso8601());
  if (s.ok()) s = inject_fault("snapshot.create:before-directory");
  if (s.ok()) s = add_snapshot_entry(volume.io.get(), uuid, volume.rbd_name);
  return s;
}

}  // namespace

Result<Json> snapshot_create(Driver& driver, const Json& request, const Progress&) {
  auto volume_id = required_string(request, "volume");
  if (!volume_id.ok()) return volume_id.status();
  auto name = optional_name(request, "name", "snapshot");
  if (!name.ok()) return name.status();
  auto volume = locate_volume(driver, *volume_id);
  if (!volume.ok()) return volume.status();
  const std::string where = "volume " + volume->uuid + " on backend " + volume->cluster->id();
  auto image = open_image(volume->io.get(), volume->rbd_name, false);
  if (!image.ok()) return image.status().Prefixed(where);

  const std::string uuid = new_uuid();
  const std::string rbd_snap = kSnapshotPrefix + uuid;
  int r = rbd_snap_create(image->get(), rbd_snap.c_str());
  if (r < 0) {
    return Status::Error(
        r, "cannot create snapshot " + rbd_snap + " of " + where + ": " + ceph_strerror(r));
  }
  Status s = record_snapshot(image->get(), *volume, uuid, *name);
  if (!s.ok()) {
    (void)remove_snapshot_entry(volume->io.get(), uuid);
    for (const auto& key : {snapshot_name_key(uuid), snapshot_created_key(uuid)}) {
      rbd_metadata_remove(image->get(), key.c_str());
    }
    int undo = rbd_snap_remove(image->get(), rbd_snap.c_str());
    return Status::Error(
        s.err(), "snapshot " + uuid + " of " + where + ": " + s.message() +
                     (undo == 0 ? " (removed again)"
                                : " (removing it failed too: " + ceph_strerror(undo) + ")"));
  }
  auto snaps = list_snapshots(image->get());
  if (!snaps.ok()) return snaps.status().Prefixed(where);
  auto meta = metadata_list(image->get(), snapshot_meta_prefix(uuid));
  if (!meta.ok()) return meta.status().Prefixed(where);
  for (const auto& snap : *snaps) {
    if (snap.name == rbd_snap) return snapshot_record(image->get(), *volume, snap, *meta);
  }
  return Status::NotFound("snapshot " + uuid + " of " + where + " vanished after it was created");
}

}  // namespace rbdvol::plugin
