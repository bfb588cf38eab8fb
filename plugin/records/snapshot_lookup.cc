#include "plugin/records/snapshot_lookup.h"

#include "plugin/ceph/clone_tree.h"
#include "plugin/fan_out.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

Status add_snapshot_entry(rados_ioctx_t io, const std::string& uuid,
                          const std::string& volume_rbd_name) {
  const char* keys[] = {uuid.c_str()};
  const char* vals[] = {volume_rbd_name.c_str()};
  const size_t key_lens[] = {uuid.size()};
  const size_t val_lens[] = {volume_rbd_name.size()};
  WriteOpPtr op(rados_create_write_op());
  rados_write_op_omap_set2(op.get(), keys, vals, key_lens, val_lens, 1);
  int r = rados_write_op_operate2(op.get(), io, kSnapshotDirectory.c_str(), nullptr, 0);
  if (r < 0) {
    return Status::Error(r, "cannot add snapshot " + uuid + " to " +
                                image_spec(io, kSnapshotDirectory) + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

Status remove_snapshot_entry(rados_ioctx_t io, const std::string& uuid) {
  const char* keys[] = {uuid.c_str()};
  const size_t key_lens[] = {uuid.size()};
  WriteOpPtr op(rados_create_write_op());
  rados_write_op_omap_rm_keys2(op.get(), keys, key_lens, 1);
  int r = rados_write_op_operate2(op.get(), io, kSnapshotDirectory.c_str(), nullptr, 0);
  if (r < 0 && r != -ENOENT) {
    return Status::Error(r, "cannot remove snapshot " + uuid + " from " +
                                image_spec(io, kSnapshotDirectory) + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

namespace {

// The volume that `io`'s snapshot directory names for snapshot `uuid`, or ""
// when it names none.
Result<std::string> snapshot_entry(rados_ioctx_t io, const std::string& uuid) {
  ReadOpPtr op(rados_create_read_op());
  rados_omap_iter_t raw_iter = nullptr;
  int prval = 0;
  const char* keys[] = {uuid.c_str()};
  rados_read_op_omap_get_vals_by_keys(op.get(), keys, 1, &raw_iter, &prval);
  int r = rados_read_op_operate(op.get(), io, kSnapshotDirectory.c_str(), 0);
  OmapIterPtr iter(raw_iter);
  if (r == -ENOENT) return std::string();
  if (r < 0 || prval < 0) {
    r = r < 0 ? r : prval;
    return Status::Error(
        r, "cannot read " + image_spec(io, kSnapshotDirectory) + ": " + ceph_strerror(r));
  }
  char* key = nullptr;
  char* val = nullptr;
  size_t len = 0;
  if (rados_omap_get_next(iter.get(), &key, &val, &len) < 0 || !key) return std::string();
  return std::string(val, len);
}

// Whether volume `name` in `io` has the RBD snapshot `rbd_snap`; an error
// other than ENOENT (a backend that stopped answering) is returned as is.
Result<bool> volume_has_snapshot(rados_ioctx_t io, const std::string& name,
                                 const std::string& rbd_snap) {
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
  std::vector<Cluster*> clusters;
  for (auto& c : driver.clusters()) clusters.push_back(c.get());
  struct Found {
    IoCtxPtr io;
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
    auto entry = snapshot_entry(io->get(), *uuid);
    if (!entry.ok()) return entry.status();
    if (!entry->empty()) {
      auto has = volume_has_snapshot(io->get(), *entry, rbd_snap);
      if (!has.ok()) return has.status();
      if (*has) return Found{std::move(io).value(), *entry};
    }
    auto names = list_images(io->get());
    if (!names.ok()) return names.status();
    for (const auto& name : *names) {
      if (name.compare(0, kVolumePrefix.size(), kVolumePrefix) != 0 || name == *entry) continue;
      auto has = volume_has_snapshot(io->get(), name, rbd_snap);
      if (!has.ok()) return has.status();
      if (*has) {
        (void)add_snapshot_entry(io->get(), *uuid, name);
        return Found{std::move(io).value(), name};
      }
    }
    if (!entry->empty()) (void)remove_snapshot_entry(io->get(), *uuid);
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
