#include "plugin/snapshot_lookup.h"

#include "plugin/clone_tree.h"
#include "plugin/fan_out.h"
#include "plugin/naming.h"

namespace rbdvol::plugin {

std::string snapshot_uuid_of(const std::string& rbd_snap_name) {
  if (rbd_snap_name.compare(0, kSnapshotPrefix.size(), kSnapshotPrefix) != 0) return "";
  std::string uuid = rbd_snap_name.substr(kSnapshotPrefix.size());
  return is_uuid(uuid) ? uuid : "";
}

Result<SnapshotHandle> locate_snapshot(Driver& driver, const std::string& id) {
  auto uuid = uuid_from_id(id, kSnapshotPrefix, "snapshot");
  if (!uuid.ok()) return uuid.status();
  const std::string rbd_snap = kSnapshotPrefix + *uuid;
  std::vector<Cluster*> clusters;
  for (auto& c : driver.clusters()) clusters.push_back(c.get());
  struct Found {
    IoCtxPtr io;
    std::string volume_name;
  };
  // There is no index: each backend opens its volumes at the snapshot until
  // one has it. Snapshot ids are uuids, so at most one volume can.
  auto found = fan_out(clusters, [&](Cluster* c) -> Result<Found> {
    auto io = c->open_volume_pool();
    if (!io.ok()) return io.status();
    auto names = list_images(io->get());
    if (!names.ok()) return names.status();
    for (const auto& name : *names) {
      if (name.compare(0, kVolumePrefix.size(), kVolumePrefix) != 0) continue;
      if (open_image_at(io->get(), name, rbd_snap).ok()) return Found{std::move(io).value(), name};
    }
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

Result<Json> snapshot_record(rbd_image_t image, const VolumeHandle& volume,
                             const SnapshotInfo& snap,
                             const std::map<std::string, std::string>& meta) {
  const std::string uuid = snapshot_uuid_of(snap.name);
  auto get = [&](const std::string& key) {
    auto it = meta.find(key);
    return it == meta.end() ? std::string() : it->second;
  };
  int is_protected = 0;
  int r = rbd_snap_is_protected(image, snap.name.c_str(), &is_protected);
  if (r < 0) {
    return Status::Error(r, "cannot read snapshot " + image_spec(volume.io.get(), volume.rbd_name) +
                                "@" + snap.name + " on backend " + volume.cluster->id() + ": " +
                                ceph_strerror(r));
  }
  auto children = snapshot_children(volume.io.get(), volume.rbd_name, snap.name);
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
              {"protected", is_protected != 0},
              {"clones", clones}};
}

}  // namespace rbdvol::plugin
