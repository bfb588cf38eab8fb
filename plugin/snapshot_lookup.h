// Snapshots of volumes: how they are named in RBD and in the volume's
// metadata, and finding one across every backend by its id.
//
// A snapshot is the RBD snapshot `snapshot-<uuid>` of its volume's image.
// What rbdvol knows of it beyond RBD lives in the volume's image metadata,
// under keys of its own, so it goes with the volume and needs no index:
//   rbdvol.snapshot.<uuid>.name        the name given at creation ("" if none)
//   rbdvol.snapshot.<uuid>.created_at  ISO 8601 UTC time of creation
#pragma once

#include <map>
#include <string>
#include <vector>

#include "plugin/catalog.h"
#include "plugin/rbd_image.h"

namespace rbdvol::plugin {

inline const std::string kSnapshotPrefix = "snapshot-";

inline std::string snapshot_meta_prefix(const std::string& uuid) {
  return "rbdvol.snapshot." + uuid + ".";
}
inline std::string snapshot_name_key(const std::string& uuid) {
  return snapshot_meta_prefix(uuid) + "name";
}
inline std::string snapshot_created_key(const std::string& uuid) {
  return snapshot_meta_prefix(uuid) + "created_at";
}

// The uuid of an rbdvol snapshot's RBD name, or "" for any other snapshot.
std::string snapshot_uuid_of(const std::string& rbd_snap_name);

struct SnapshotHandle {
  VolumeHandle volume;
  std::string uuid;
  std::string rbd_snap;  // "snapshot-<uuid>"
};

// The volume and backend that hold snapshot `id` ("<uuid>" or
// "snapshot-<uuid>"), asking every backend at once. ENOENT names the
// snapshot and, when some backend did not answer, which ("not searched").
Result<SnapshotHandle> locate_snapshot(Driver& driver, const std::string& id);

// The answer form of one snapshot of `image` (the volume's open image):
// id, name, volume, backend, pool, image, snapshot, size, created_at,
// protected, clones.
Result<Json> snapshot_record(rbd_image_t image, const VolumeHandle& volume,
                             const SnapshotInfo& snap,
                             const std::map<std::string, std::string>& meta);

}  // namespace rbdvol::plugin
