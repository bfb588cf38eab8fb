// Snapshots of volumes: how they are named in RBD and in the volume's
// metadata, and finding one across every backend by its id.
//
// A snapshot is the RBD snapshot `snapshot-<uuid>` of its volume's image.
// What rbdvol knows of it beyond RBD lives in the volume's image metadata,
// under keys of its own, so it goes with the volume:
//   rbdvol.snapshot.<uuid>.name        the name given at creation ("" if none)
//   rbdvol.snapshot.<uuid>.created_at  ISO 8601 UTC time of creation
// Which volume holds a snapshot is in the snapshot directory of the volume
// pool: the omap of the RADOS object rbdvol_snapshot_directory, key <uuid>,
// value the volume's RBD name (as rbd_directory maps image names to ids).
// An entry is only a hint, checked against RBD before it is used: a
// snapshot without one (made before the directory, or by a run that died
// before writing it) is found by opening the pool's volumes in turn, and
// its entry written then; an entry naming the wrong volume is corrected.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "plugin/ceph/rbd_image.h"
#include "plugin/records/catalog.h"

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

inline const std::string kSnapshotDirectory = "rbdvol_snapshot_directory";

// Records in `io`'s snapshot directory that volume `volume_rbd_name` holds
// snapshot `uuid`.
Status add_snapshot_entry(Pool& io, const std::string& uuid, const std::string& volume_rbd_name);
// Removes snapshot `uuid`'s entry; one that is not there counts as removed.
Status remove_snapshot_entry(Pool& io, const std::string& uuid);

// The uuid of an rbdvol snapshot's RBD name, or "" for any other snapshot.
std::string snapshot_uuid_of(const std::string& rbd_snap_name);

struct SnapshotHandle {
  VolumeHandle volume;
  std::string uuid;
  std::string rbd_snap;  // "snapshot-<uuid>"
};

// The volume and backend that hold snapshot `id` ("<uuid>" or
// "snapshot-<uuid>"), asking every backend at once: its snapshot directory
// first, then its volumes one by one. ENOENT names the snapshot;
// EHOSTUNREACH when it was found nowhere but some backend did not answer
// (named, "not searched").
Result<SnapshotHandle> locate_snapshot(Driver& driver, const std::string& id);

// The answer form of one snapshot of `image` (the volume's open image):
// id, name, volume, backend, pool, image, snapshot, size, created_at,
// protected, clones.
Result<Json> snapshot_record(RbdImage& image, const VolumeHandle& volume, const SnapshotInfo& snap,
                             const std::map<std::string, std::string>& meta);

}  // namespace rbdvol::plugin
