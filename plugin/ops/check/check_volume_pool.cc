// backend.check in a volume pool: what each volume-<uuid>, its hidden
// snapshots and the pool's snapshot directory say, against each other and
// against the config.
#include <algorithm>
#include <map>

#include "plugin/ceph/clone_tree.h"
#include "plugin/ceph/omap_read.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/check/check.h"
#include "plugin/records/attachments.h"
#include "plugin/records/naming.h"
#include "plugin/records/snapshot_lookup.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

namespace {

// The temporary snapshot image.create_from_volume takes of a volume.
const std::string kImageFromVolumeSnapshotPrefix = "rbdvol-image-";

bool is_hidden_snapshot(const std::string& name) {
  return is_clone_snapshot(name) || name.compare(0, kImageFromVolumeSnapshotPrefix.size(),
                                                 kImageFromVolumeSnapshotPrefix) == 0;
}

// The uuid a hidden snapshot's name carries (the new volume's or image's).
std::string hidden_snapshot_uuid(const std::string& name) {
  const size_t dash =
      is_clone_snapshot(name) ? kCloneSnapshotPrefix.size() : kImageFromVolumeSnapshotPrefix.size();
  std::string uuid = name.substr(dash);
  return is_uuid(uuid) ? uuid : "";
}

// Every entry of `io`'s snapshot directory: snapshot uuid -> volume RBD name.
Result<std::map<std::string, std::string>> read_snapshot_directory(Pool& io) {
  auto entries = omap_read_all(io, kSnapshotDirectory, "");
  // No snapshot recorded here.
  if (!entries.ok() && entries.status().err() == ENOENT)
    return std::map<std::string, std::string>();
  return entries;
}

Result<time_t> snapshot_time(RbdImage& image, uint64_t snap_id) {
  ASSIGN_OR_RETURN(timespec ts, image.snap_timestamp(snap_id));
  return ts.tv_sec;
}

Result<time_t> creation_time(RbdImage& image) {
  ASSIGN_OR_RETURN(timespec ts, image.create_timestamp());
  return ts.tv_sec;
}

std::string uuid_of_volume(const std::string& rbd_name) {
  return rbd_name.substr(kVolumePrefix.size());
}

// A volume-<uuid> that a volume.create killed (or failed without undoing)
// left: it has no disk type, or still carries the `rbdvol.complete` a clone
// inherits from its image (finish_volume, the create's last step, drops it).
// The repair removes it when no client has it open, and gives its parent a
// hidden snapshot of no more use back, as volume.delete does.
Status remove_unfinished_volume(Cluster* cluster, const std::string& rbd_name) {
  ASSIGN_OR_RETURN(PoolPtr io, cluster->open_volume_pool());
  ASSIGN_OR_RETURN(std::string writer, live_writer(*io, rbd_name));
  if (!writer.empty()) return Status::Busy("client " + writer + " is writing it");
  ParentInfo parent;
  {
    ASSIGN_OR_RETURN(ImagePtr image, open_image(*io, rbd_name, true));
    ASSIGN_OR_RETURN(parent, parent_of(*image));
  }
  RETURN_IF_ERROR(remove_image_and_snapshots(*io, rbd_name));
  return release_clone_snapshot(*io, parent);
}

// The clones of snapshot `snap_id` of `name`, whatever its namespace (a
// snapshot in RBD's trash has no name to open it by).
Result<size_t> clones_of_snapshot_id(Pool& io, const std::string& name, uint64_t snap_id) {
  ASSIGN_OR_RETURN(ImagePtr image, open_image(io, name, true));
  RETURN_IF_ERROR(image->snap_set_by_id(snap_id));
  ASSIGN_OR_RETURN(auto children, image->children());
  return children.size();
}

// Removes a snapshot that sits in RBD's trash namespace when it has no
// clone left (librbd would have removed it with its last clone).
Status remove_trashed_snapshot(Cluster* cluster, const std::string& name, uint64_t snap_id) {
  ASSIGN_OR_RETURN(PoolPtr io, cluster->open_volume_pool());
  ASSIGN_OR_RETURN(size_t clones, clones_of_snapshot_id(*io, name, snap_id));
  if (clones > 0) return Status::Busy("it has a clone again");
  ASSIGN_OR_RETURN(ImagePtr image, open_image(*io, name, false));
  Status s = image->snap_remove_by_id(snap_id);
  if (!s.ok() && s.err() != ENOENT) return s;
  return Status::Ok();
}

struct VolumePoolScan {
  Driver& driver;
  Cluster& cluster;
  const CheckOptions& options;
  Pool& io;
  BackendScan out;
  std::map<std::string, std::string> snapshots_held;  // snapshot uuid -> volume

  Finding finding(const std::string& kind, const std::string& rbd_name,
                  std::vector<std::string> ids) {
    Finding f;
    f.kind = kind;
    f.backend = cluster.id();
    f.pool = cluster.backend().volume_pool;
    f.image = rbd_name;
    f.ids = std::move(ids);
    return f;
  }

  void add(Finding f) {
    if (options.wanted(f.ids)) out.findings.push_back(std::move(f));
  }

  Status scan_volume(const std::string& rbd_name);
  void compare_directory(const std::map<std::string, std::string>& directory);
};

Status VolumePoolScan::scan_volume(const std::string& rbd_name) {
  const std::string uuid = uuid_of_volume(rbd_name);
  const std::string spec = image_spec(io, rbd_name);
  auto opened = open_image(io, rbd_name, true);
  if (!opened.ok()) {
    // Removed since the pool was listed.
    return opened.status().err() == ENOENT ? Status::Ok() : opened.status();
  }
  RbdImage& image = **opened;
  ASSIGN_OR_RETURN(auto meta, metadata_list(image, meta::kPrefix));
  ASSIGN_OR_RETURN(auto snapshots, list_snapshots(image));
  ASSIGN_OR_RETURN(ParentInfo parent, parent_of(image));

  auto type_key = meta.find(meta::kDiskType);
  if (type_key == meta.end() || meta.count(meta::kComplete)) {
    ASSIGN_OR_RETURN(time_t made, creation_time(image));
    if (!options.old_enough(made)) return Status::Ok();  // may be being created now
    Finding f = finding("unfinished_volume", rbd_name, {uuid});
    f.problem = spec +
                " was never finished (no disk type recorded): a volume.create that was "
                "killed, or whose undo failed, left it";
    if (std::any_of(snapshots.begin(), snapshots.end(),
                    [](const SnapshotInfo& s) { return !is_hidden_snapshot(s.name); })) {
      f.left = "it has snapshots of its own; look at it and delete it with volume delete --cascade";
    } else {
      f.repair = "remove " + spec + " (when no client has it open)";
      Cluster* c = &cluster;
      f.fix = [c, rbd_name] { return remove_unfinished_volume(c, rbd_name); };
    }
    add(std::move(f));
    return Status::Ok();  // nothing else it records can be trusted
  }

  for (const auto& snap : snapshots) {
    if (!snapshot_uuid_of(snap.name).empty()) {
      snapshots_held[snapshot_uuid_of(snap.name)] = rbd_name;
      continue;
    }
    auto ns = image.snap_namespace(snap.id);
    if (!ns.ok() && ns.status().err() == ENOENT) continue;
    if (!ns.ok()) return ns.status();
    if (ns->kind == SnapshotNamespace::Kind::kTrash) {
      // librbd moves a snapshot removed while it has clones to its trash,
      // and removes it with the last clone. One left there with none (a
      // volume.delete killed while it flattened) makes volume.delete fail.
      ASSIGN_OR_RETURN(size_t clones, clones_of_snapshot_id(io, rbd_name, snap.id));
      if (clones > 0) continue;
      // What it was called before it went to the trash: which of rbdvol's
      // snapshots it was.
      const std::string was = ns->trash_original_name.empty() ? "?" : ns->trash_original_name;
      std::vector<std::string> ids = {uuid};
      if (!snapshot_uuid_of(was).empty()) ids.push_back(snapshot_uuid_of(was));
      if (is_hidden_snapshot(was) && !hidden_snapshot_uuid(was).empty()) {
        ids.push_back(hidden_snapshot_uuid(was));
      }
      Finding f = finding("childless_trashed_snapshot", rbd_name, ids);
      f.snapshot = snap.name;
      f.problem = "snapshot id " + std::to_string(snap.id) + " of " + spec + " (" + was +
                  ") is in RBD's trash with no clone left (a delete that was killed while it "
                  "flattened the clones left it); volume delete fails on it";
      f.repair = "remove snapshot id " + std::to_string(snap.id) + " of " + spec;
      Cluster* c = &cluster;
      const uint64_t snap_id = snap.id;
      f.fix = [c, rbd_name, snap_id] { return remove_trashed_snapshot(c, rbd_name, snap_id); };
      add(std::move(f));
      continue;
    }
    if (!is_hidden_snapshot(snap.name)) continue;  // not rbdvol's: left alone
    auto children = snapshot_children(io, rbd_name, snap.name);
    if (!children.ok()) {
      if (children.status().err() == ENOENT) continue;  // removed meanwhile
      return children.status();
    }
    if (!children->empty()) continue;
    ASSIGN_OR_RETURN(time_t made, snapshot_time(image, snap.id));
    if (!options.old_enough(made)) continue;  // a clone or copy may be using it right now
    std::vector<std::string> ids = {uuid};
    if (!hidden_snapshot_uuid(snap.name).empty()) ids.push_back(hidden_snapshot_uuid(snap.name));
    Finding f = finding("childless_hidden_snapshot", rbd_name, ids);
    f.snapshot = snap.name;
    f.problem = "hidden snapshot " + spec + "@" + snap.name +
                " has no clone: the volume it was taken for is gone or independent "
                "(a run was killed, or removing it failed)";
    f.repair = "remove snapshot " + spec + "@" + snap.name;
    Cluster* c = &cluster;
    const std::string snap_name = snap.name;
    f.fix = [c, rbd_name, snap_name]() -> Status {
      ASSIGN_OR_RETURN(PoolPtr pool, c->open_volume_pool());
      // remove_snapshot's unprotect refuses (EBUSY) if a clone appeared.
      return remove_snapshot(*pool, rbd_name, snap_name);
    };
    add(std::move(f));
  }

  const std::string type_name = type_key->second;
  const config::DiskType* type = driver.config().find_disk_type(type_name);
  if (!type) {
    std::vector<std::string> known;
    for (const auto& t : driver.config().disk_types) known.push_back(t.name);
    Finding f = finding("unknown_disk_type", rbd_name, {uuid});
    f.problem = "volume " + uuid + " has disk type '" + type_name +
                "', which the config no longer has (known: " + name_list(known) + ")";
    f.left = "which type it should have is the operator's choice: add [disk_type:" + type_name +
             "] back to the config, or give it another with volume retype";
    add(std::move(f));
  } else if (type->multiattach) {
    ASSIGN_OR_RETURN(uint64_t features, image_features(image));
    if (features & kMultiattachForbiddenFeatures) {
      Finding f = finding("multiattach_lock_features", rbd_name, {uuid});
      f.problem = "volume " + uuid + " of multiattach disk type " + type_name + " has " +
                  name_list(feature_names(features & kMultiattachForbiddenFeatures)) +
                  " on: guests sharing it would fight over its lock";
      f.repair = "turn " + name_list(feature_names(features & kMultiattachForbiddenFeatures)) +
                 " off (the previous set is kept in rbdvol.saved_features)";
      Cluster* c = &cluster;
      f.fix = [c, rbd_name]() -> Status {
        ASSIGN_OR_RETURN(PoolPtr pool, c->open_volume_pool());
        ASSIGN_OR_RETURN(ImagePtr rw, open_image(*pool, rbd_name, false));
        return disable_multiattach_features(*rw);
      };
      add(std::move(f));
    }
  }

  if (parent.has_parent) {
    ASSIGN_OR_RETURN(int depth, clone_depth(io, image));
    const int max_depth = driver.config().max_clone_depth;
    if (depth > max_depth) {
      Finding f = finding("deep_clone_chain", rbd_name, {uuid});
      f.problem = "volume " + uuid + " is at the end of a clone chain " + std::to_string(depth) +
                  " deep, more than max_clone_depth " + std::to_string(max_depth) +
                  " (its parent: " + parent.pool + "/" + parent.image + "@" + parent.snapshot + ")";
      f.left =
          "flattening copies all of the volume's data and may take long; do it when the volume "
          "is quiet (rbd flatten " +
          spec + ")";
      add(std::move(f));
    }
  }

  ASSIGN_OR_RETURN(Json records, read_attachments(io, image));
  if (!records.empty() && options.wanted({uuid})) {
    out.attachments.push_back({{"volume", uuid},
                               {"backend", cluster.id()},
                               {"pool", cluster.backend().volume_pool},
                               {"image", rbd_name},
                               {"records", records}});
  }
  return Status::Ok();
}

void VolumePoolScan::compare_directory(const std::map<std::string, std::string>& directory) {
  const std::string dir = image_spec(io, kSnapshotDirectory);
  for (const auto& [snap_uuid, volume] : snapshots_held) {
    auto entry = directory.find(snap_uuid);
    if (entry != directory.end() && entry->second == volume) continue;
    Finding f =
        finding(entry == directory.end() ? "snapshot_without_entry" : "entry_names_other_volume",
                volume, {snap_uuid, uuid_of_volume(volume)});
    f.snapshot = kSnapshotPrefix + snap_uuid;
    f.problem = entry == directory.end() ? "snapshot " + snap_uuid + " of " +
                                               image_spec(io, volume) + " has no entry in " + dir +
                                               " (a snapshot.create was killed before writing it)"
                                         : dir + " says snapshot " + snap_uuid + " is on " +
                                               entry->second + ", but " + volume + " holds it";
    f.repair = "set its entry in " + dir + " to " + volume;
    Cluster* c = &cluster;
    const std::string id = snap_uuid, holder = volume;
    f.fix = [c, id, holder]() -> Status {
      ASSIGN_OR_RETURN(PoolPtr pool, c->open_volume_pool());
      return add_snapshot_entry(*pool, id, holder);
    };
    add(std::move(f));
  }
  for (const auto& [snap_uuid, volume] : directory) {
    if (snapshots_held.count(snap_uuid)) continue;
    std::vector<std::string> ids = {snap_uuid};
    if (volume.compare(0, kVolumePrefix.size(), kVolumePrefix) == 0) {
      ids.push_back(uuid_of_volume(volume));
    }
    Finding f = finding("entry_without_snapshot", volume, ids);
    f.snapshot = kSnapshotPrefix + snap_uuid;
    f.problem = dir + " names " + volume + " for snapshot " + snap_uuid +
                ", which no volume of the pool has (a snapshot.delete or volume.delete did not "
                "finish)";
    f.repair = "remove the entry from " + dir;
    Cluster* c = &cluster;
    const std::string id = snap_uuid, named = volume;
    f.fix = [c, id, named]() -> Status {
      ASSIGN_OR_RETURN(PoolPtr pool, c->open_volume_pool());
      // A snapshot.create writes its entry after the snapshot: one made
      // since the pool was scanned has it by now.
      auto at = open_image_at(*pool, named, kSnapshotPrefix + id);
      if (at.ok()) return Status::Exists(named + " has the snapshot now");
      if (at.status().err() != ENOENT && at.status().err() != EINVAL) return at.status();
      return remove_snapshot_entry(*pool, id);
    };
    add(std::move(f));
  }
}

}  // namespace

Result<BackendScan> check_volume_pool(Driver& driver, Cluster& cluster,
                                      const CheckOptions& options) {
  ASSIGN_OR_RETURN(PoolPtr io, cluster.open_volume_pool());
  ASSIGN_OR_RETURN(auto names, list_images(*io));
  VolumePoolScan scan{driver, cluster, options, *io, {}, {}};
  for (const auto& name : names) {
    // Only rbdvol's volumes: any other image in the pool is not ours.
    if (name.compare(0, kVolumePrefix.size(), kVolumePrefix) != 0 ||
        !is_uuid(name.substr(kVolumePrefix.size()))) {
      continue;
    }
    Status s = scan.scan_volume(name);
    if (s.err() == ENOENT) continue;  // it, or an ancestor, was removed while looked at
    RETURN_IF_ERROR(s.Prefixed("backend " + cluster.id()));
  }
  // Read after the volumes: a snapshot.create writes its entry after its
  // snapshot, so an entry read now for a snapshot made since is rechecked
  // before it is removed.
  ASSIGN_OR_RETURN(auto directory, read_snapshot_directory(*io));
  scan.compare_directory(directory);
  return std::move(scan.out);
}

}  // namespace rbdvol::plugin
