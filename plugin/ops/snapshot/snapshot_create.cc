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

Status record_snapshot(RbdImage& image, const VolumeHandle& volume, const std::string& uuid,
                       const std::string& name) {
  Status s = inject_fault("snapshot.create:after-snapshot");
  if (s.ok()) s = metadata_set(image, snapshot_name_key(uuid), name);
  if (s.ok()) s = metadata_set(image, snapshot_created_key(uuid), utc_now_iso8601());
  if (s.ok()) s = inject_fault("snapshot.create:before-directory");
  if (s.ok()) s = add_snapshot_entry(*volume.io, uuid, volume.rbd_name);
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
  auto image = open_image(*volume->io, volume->rbd_name, false);
  if (!image.ok()) return image.status().Prefixed(where);

  const std::string uuid = new_uuid();
  const std::string rbd_snap = kSnapshotPrefix + uuid;
  Status created = (*image)->snap_create(rbd_snap);
  if (!created.ok()) {
    const int r = created.err();
    return Status::Error(
        r, "cannot create snapshot " + rbd_snap + " of " + where + ": " + ceph_strerror(r));
  }
  Status s = record_snapshot(**image, *volume, uuid, *name);
  if (!s.ok()) {
    (void)remove_snapshot_entry(*volume->io, uuid);
    for (const auto& key : {snapshot_name_key(uuid), snapshot_created_key(uuid)}) {
      (void)(*image)->metadata_remove(key);
    }
    Status undo = (*image)->snap_remove(rbd_snap);
    return Status::Error(
        s.err(), "snapshot " + uuid + " of " + where + ": " + s.message() +
                     (undo.ok() ? " (removed again)"
                                : " (removing it failed too: " + ceph_strerror(undo.err()) + ")"));
  }
  auto snaps = list_snapshots(**image);
  if (!snaps.ok()) return snaps.status().Prefixed(where);
  auto meta = metadata_list(**image, snapshot_meta_prefix(uuid));
  if (!meta.ok()) return meta.status().Prefixed(where);
  for (const auto& snap : *snaps) {
    if (snap.name == rbd_snap) return snapshot_record(**image, *volume, snap, *meta);
  }
  return Status::NotFound("snapshot " + uuid + " of " + where + " vanished after it was created");
}

}  // namespace rbdvol::plugin
