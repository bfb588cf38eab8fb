#include "plugin/records/snapshot_lookup.h"

#include "plugin/ceph/clone_tree.h"
#include "plugin/fan_out.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

Status add_snapshot_entry(Pool& io, const std::string& uuid, const std::string& volume_rbd_name) {
  ObjectWrite op;
  op.omap_set[uuid] = volume_rbd_name;
  Status s = io.operate(kSnapshotDirectory, op);
  if (!s.ok()) {
    const int r = s.err();
    return Status::Error(r, "cannot add snapshot " + uuid + " to " +
                                image_spec(io, kSnapshotDirectory) + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

Status remove_snapshot_entry(Pool& io, const std::string& uuid) {
  ObjectWrite op;
  op.omap_remove.insert(uuid);
  Status s = io.operate(kSnapshotDirectory, op);
  if (!s.ok() && s.err() != ENOENT) {
    const int r = s.err();
    return Status::Error(r, "cannot remove snapshot " + uuid + " from " +
                                image_spec(io, kSnapshotDirectory) + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

namespace {

// The volume that `io`'s snapshot directory names for snapshot `uuid`, or ""
// when it names none.
Result<std::string> snapshot_entry(Pool& io, const std::string& uuid) {
  auto page = io.omap_get_keys(kSnapshotDirectory, {uuid});
  if (!page.ok() && page.status().err() == ENOENT) return std::string();
  if (!page.ok()) return page.status();
  const auto it = page->values.find(uuid);
  return it == page->values.end() ? std::string() : it->second;
}

// Whether volume `name` in `io` has the RBD snapshot `rbd_snap`; an error
// other than ENOENT (a backend that stopped answering) is returned as is.
Result<bool> volume_has_snapshot(Pool& io, const std::string& name, const std::string& rbd_snap) {
  auto opened = open_image_at(io, name, rbd_snap);
  if (opened.ok()) return true;
  if (opened.status().err() == ENOENT) return false;
  return opened.status();
}

}  // namespace

std::string snapshot_uuid_of(const std::string& rbd_snap_name) {
  if (rbd_snap_name.compare(0, kSnapshotPrefix.size(), kSnapshotPrefix) != 0) return "";
  std::string uuid = rbd_snap_name.substr(kSnapshotPrefix.size());
  return is_uuid(uuid) ? uuid : "";
}

Result<SnapshotHandle> locate_snapshot(Driver& driver, const std::string& id) {
  auto uuid = uuid_from_id(id, kSnapshotPrefix, "snapshot");
  if (!uuid.ok()) return uuid.status();
  const std::string rbd_snap = kSnapshotPrefix + *uuid;
  std::vector<Cluster*> clusters = driver.cluster_list();
  struct Found {
    PoolPtr io;
    std::string volume_name;
  };
  // Each backend asks its snapshot directory, and checks the volume it names;
  // without an entry, or with a wrong one, it opens its volumes at the
  // snapshot until one has it (snapshot ids are uuids, so at most one volume
  // can) and puts the entry right. Writing the entry is only a hint for next
  // time: when that fails, the next lookup searches again.
  auto found = fan_out(clusters, [&](Cluster* c) -> Result<Found> {
    auto io = c->open_volume_pool();
    if (!io.ok()) return io.status();
    auto entry = snapshot_entry(**io, *uuid);
    if (!entry.ok()) return entry.status();
    if (!entry->empty()) {
      auto has = volume_has_snapshot(**io, *entry, rbd_snap);
      if (!has.ok()) return has.status();
      if (*has) return Found{std::move(io).value(), *entry};
    }
    auto names = list_images(**io);
    if (!names.ok()) return names.status();
    for (const auto& name : *names) {
      if (name.compare(0, kVolumePrefix.size(), kVolumePrefix) != 0 || name == *entry) continue;
      auto has = volume_has_snapshot(**io, name, rbd_snap);
      if (!has.ok()) return has.status();
      if (*has) {
        (void)add_snapshot_entry(**io, *uuid, name);
        return Found{std::move(io).value(), name};
      }
    }
    if (!entry->empty()) (void)remove_snapshot_entry(**io, *uuid);
    return Status::NotFound("not in backend " + c->id());
  });
  std::string unreachable;
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].ok()) {
      Found f = std::move(found[i]).value();
      const std::string volume_uuid = f.volume_name.substr(kVolumePrefix.size());
      return SnapshotHandle{VolumeHandle{clusters[i], std::move(f.io), volume_uuid, f.volume_name},
                            *uuid, rbd_snap};
    }
    if (found[i].status().err() != ENOENT) unreachable += "; " + found[i].status().message();
  }
  // Not found, but a backend that did not answer may hold it: EHOSTUNREACH,
  // so that callers never take it for gone.
  if (!unreachable.empty()) {
    return Status::Error(EHOSTUNREACH,
                         "snapshot " + *uuid +
                             " not found in the backends that answered (not searched:" +
                             unreachable.substr(1) + ")");
  }
  return Status::NotFound("snapshot " + *uuid + " not found in any backend");
}

Result<Json> snapshot_record(RbdImage& image, const VolumeHandle& volume, const SnapshotInfo& snap,
                             const std::map<std::string, std::string>& meta) {
  const std::string uuid = snapshot_uuid_of(snap.name);
  auto get = [&](const std::string& key) {
    auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  auto is_protected = image.snap_is_protected(snap.name);
  if (!is_protected.ok()) {
    return is_protected.status().Prefixed("backend " + volume.cluster->id());
  }
  auto children = snapshot_children(*volume.io, volume.rbd_name, snap.name);
  if (!children.ok()) return children.status().Prefixed("backend " + volume.cluster->id());
  Json clones = Json::array();
  for (const auto& c : *children) clones.push_back(c.spec());
  return Json{{"id", uuid},
              {"name", get(snapshot_name_key(uuid))},
              {"volume", volume.uuid},
              {"backend", volume.cluster->id()},
              {"pool", volume.cluster->backend().volume_pool},
              {"image", volume.rbd_name},
              {"snapshot", snap.name},
              {"size", snap.size},
              {"created_at", get(snapshot_created_key(uuid))},
              {"protected", *is_protected},
              {"clones", clones}};
}

}  // namespace rbdvol::plugin
