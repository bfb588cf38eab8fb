#include "plugin/records/volume_record.h"

#include <cstdlib>

#include "plugin/ceph/rbd_image.h"
#include "plugin/records/attachments.h"
#include "plugin/records/naming.h"
#include "plugin/records/snapshot_lookup.h"

namespace rbdvol::plugin {

std::vector<std::string> feature_names(uint64_t features) {
  static const std::pair<uint64_t, const char*> names[] = {
      {feature::kLayering, "layering"},
      {feature::kStripingV2, "striping"},
      {feature::kExclusiveLock, "exclusive-lock"},
      {feature::kObjectMap, "object-map"},
      {feature::kFastDiff, "fast-diff"},
      {feature::kDeepFlatten, "deep-flatten"},
      {feature::kJournaling, "journaling"},
      {feature::kDataPool, "data-pool"},
      {feature::kOperations, "operations"},
      {feature::kMigrating, "migrating"},
      {feature::kNonPrimary, "non-primary"},
  };
  std::vector<std::string> out;
  for (const auto& [bit, name] : names) {
    if (features & bit) out.emplace_back(name);
  }
  return out;
}

Status disable_multiattach_features(RbdImage& image) {
  auto features = image_features(image);
  if (!features.ok()) return features.status();
  if (metadata_get(image, meta::kSavedFeatures).status().err() == ENOENT) {
    Status s = metadata_set(image, meta::kSavedFeatures, std::to_string(*features));
    if (!s.ok()) return s;
  }
  const uint64_t off = *features & kMultiattachForbiddenFeatures;
  if (off == 0) return Status::Ok();
  Status s = image.update_features(off, false);
  if (!s.ok()) {
    return Status::Error(s.err(),
                         "cannot turn off multiattach-unsafe features: " + ceph_strerror(s.err()));
  }
  return Status::Ok();
}

Result<const config::DiskType*> disk_type_named(const config::Config& config,
                                                const std::string& name) {
  const config::DiskType* type = config.find_disk_type(name);
  if (type) return type;
  std::vector<std::string> known;
  for (const auto& t : config.disk_types) known.push_back(t.name);
  return Status::NotFound("unknown disk type '" + name + "' (known: " + name_list(known) + ")");
}

Result<const config::DiskType*> volume_disk_type(Driver& driver, RbdImage& image,
                                                 const std::string& volume_uuid) {
  auto name = metadata_get(image, meta::kDiskType);
  if (!name.ok()) {
    return Status::NotFound("volume " + volume_uuid + " has no disk type recorded (" +
                            name.status().message() + ")");
  }
  const config::DiskType* type = driver.config().find_disk_type(*name);
  if (!type) {
    return Status::NotFound("volume " + volume_uuid + " has disk type '" + *name +
                            "', which the config does not define");
  }
  return type;
}

namespace {

// volume_record, reading through `io` (the volume pool of volume.cluster).
Result<Json> volume_record_in(Driver& driver, const VolumeHandle& volume, Pool& io) {
  auto image = open_image(io, volume.rbd_name, true);
  if (!image.ok()) return image.status();
  auto size = image_size(**image);
  if (!size.ok()) return size.status();
  auto features = image_features(**image);
  if (!features.ok()) return features.status();
  auto meta = metadata_list(**image, meta::kPrefix);
  if (!meta.ok()) return meta.status();
  auto parent = parent_of(**image);
  if (!parent.ok()) return parent.status();
  auto snaps = list_snapshots(**image);
  if (!snaps.ok()) return snaps.status();
  auto attachments = read_attachments(io, **image);
  if (!attachments.ok()) return attachments.status();

  auto get = [&](const std::string& key) {
    auto it = meta->find(key);
    return it == meta->end() ? std::string() : it->second;
  };
  const std::string type_name = get(meta::kDiskType);
  const config::DiskType* type = driver.config().find_disk_type(type_name);
  Json snapshots = Json::array();
  for (const auto& s : *snaps) snapshots.push_back({{"name", s.name}, {"size", s.size}});
  Json record = {
      {"id", volume.uuid},
      {"name", get(meta::kName)},
      {"backend", volume.cluster->id()},
      {"pool", volume.cluster->backend().volume_pool},
      {"image", volume.rbd_name},
      {"size", *size},
      {"disk_type", type_name},
      {"multiattach", type ? type->multiattach : false},
      {"cache", type ? type->cache : ""},
      {"source_image", get(meta::kSourceImage)},
      {"created_at", get(meta::kCreatedAt)},
      {"features", feature_names(*features)},
      {"snapshots", snapshots},
      {"attachments", *attachments},
      {"description", get(meta::kDescription)},
      {"metadata", Json::object()},
      {"source_snapshot", get(meta::kSourceSnapshot)},
      {"source_volume", get(meta::kSourceVolume)},
  };
  if (!get(meta::kUserMetadata).empty()) {
    Json user = Json::parse(get(meta::kUserMetadata), nullptr, false);
    if (user.is_object()) record["metadata"] = user;
  }
  if (parent->has_parent) {
    record["parent"] = {
        {"pool", parent->pool}, {"image", parent->image}, {"snapshot", parent->snapshot}};
  } else {
    record["parent"] = nullptr;
  }
  if (!get(meta::kSavedFeatures).empty()) {
    record["saved_features"] =
        feature_names(std::strtoull(get(meta::kSavedFeatures).c_str(), nullptr, 10));
  }
  return record;
}

}  // namespace

Result<Json> volume_record(Driver& driver, const VolumeHandle& volume) {
  return volume_record_in(driver, volume, *volume.io);
}

Json volume_directory_entry(const Json& record) {
  Json entry = Json::object();
  for (const char* field :
       {"id", "name", "size", "disk_type", "source_image", "created_at", "attachments",
        "description", "metadata", "source_snapshot", "source_volume"}) {
    entry[field] = record.at(field);
  }
  entry["status"] = record.at("attachments").empty() ? "available" : "in-use";
  // Only the snapshots users made: the hidden ones come and go with clones
  // made from the volume, which do not refresh its entry.
  Json snapshots = Json::array();
  for (const auto& s : record.at("snapshots")) {
    if (s.value("name", "").rfind(kSnapshotPrefix, 0) == 0) snapshots.push_back(s);
  }
  entry["snapshots"] = snapshots;
  return entry;
}

Json volume_listing_item(Driver& driver, const Cluster& cluster, const Json& entry) {
  Json item = entry;
  item["backend"] = cluster.id();
  item["pool"] = cluster.backend().volume_pool;
  item["image"] = kVolumePrefix + entry.at("id").get<std::string>();
  const config::DiskType* type = driver.config().find_disk_type(entry.value("disk_type", ""));
  item["multiattach"] = type ? type->multiattach : false;
  item["cache"] = type ? type->cache : "";
  return item;
}

Result<std::vector<Json>> scan_volume_pool(Driver& driver, Cluster& cluster, Pool& io) {
  auto names = list_images(io);
  if (!names.ok()) return names.status().Prefixed("backend " + cluster.id());
  std::vector<Json> entries;
  for (const auto& name : *names) {
    if (name.compare(0, kVolumePrefix.size(), kVolumePrefix) != 0) continue;
    const std::string uuid = name.substr(kVolumePrefix.size());
    if (!is_uuid(uuid)) continue;
    VolumeHandle handle{&cluster, nullptr, uuid, name};
    auto record = volume_record_in(driver, handle, io);
    if (!record.ok()) {
      if (record.status().err() == ENOENT) continue;  // removed meanwhile
      return record.status().Prefixed("backend " + cluster.id());
    }
    entries.push_back(volume_directory_entry(*record));
  }
  return entries;
}

}  // namespace rbdvol::plugin
