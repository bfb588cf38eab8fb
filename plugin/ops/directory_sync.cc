#include "plugin/ops/directory_sync.h"

#include <algorithm>

#include "plugin/ceph/rbd_image.h"
#include "plugin/fan_out.h"
#include "plugin/fault_injection.h"
#include "plugin/records/catalog.h"
#include "plugin/records/directory.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

namespace {

std::vector<Cluster*> clusters_named(Driver& driver, const std::string& backend) {
  std::vector<Cluster*> out;
  for (auto& c : driver.clusters()) {
    if (backend.empty() || c->id() == backend) out.push_back(c.get());
  }
  return out;
}

// The first failure of `results` (one per cluster), named by its backend.
Status first_failure(const std::vector<Status>& results, const std::vector<Cluster*>& clusters) {
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].ok()) return results[i].Prefixed("backend " + clusters[i]->id());
  }
  return Status::Ok();
}

// A backend whose pool cannot be opened now was not changed by the operation
// either (it could not reach it): there is nothing to bring up to date.
bool unreachable(const Status& s) {
  return s.err() == ETIMEDOUT || s.err() == EHOSTUNREACH || s.err() == ECONNREFUSED ||
         s.err() == ENOTCONN || s.err() == ESHUTDOWN;
}

Status sync_volume_in(Driver& driver, const std::string& uuid, const std::string& backend) {
  auto clusters = clusters_named(driver, backend);
  auto results = fan_out(clusters, [&](Cluster* c) -> Status {
    auto io = c->open_volume_pool();
    if (!io.ok()) return unreachable(io.status()) ? Status::Ok() : io.status();
    VolumeHandle handle{c, std::move(io).value(), uuid, kVolumePrefix + uuid};
    auto record = volume_record(driver, handle);
    if (record.ok()) {
      return directory_put(*handle.io, DirectoryKind::kVolumes, volume_directory_entry(*record));
    }
    if (record.status().err() == ENOENT) {
      return directory_remove(*handle.io, DirectoryKind::kVolumes, uuid);
    }
    return record.status();
  });
  return first_failure(results, clusters);
}

std::string string_field(const Json& j, const char* field) {
  if (!j.is_object() || !j.contains(field) || !j.at(field).is_string()) return "";
  return j.at(field).get<std::string>();
}

// The uuid of a volume or image id as a request gives it ("<uuid>" or
// "<prefix><uuid>"), or "" when it is not one.
std::string uuid_of(const std::string& id, const std::string& prefix) {
  auto uuid = uuid_from_id(id, prefix, "");
  return uuid.ok() ? *uuid : "";
}

}  // namespace

Status sync_volume_entry(Driver& driver, const std::string& uuid) {
  return sync_volume_in(driver, uuid, "");
}

Status sync_image_entries(Driver& driver, const std::string& uuid) {
  auto clusters = clusters_named(driver, "");
  auto results = fan_out(clusters, [&](Cluster* c) -> Status {
    auto io = c->open_image_pool();
    if (!io.ok()) return unreachable(io.status()) ? Status::Ok() : io.status();
    const ImageLocation where{c->id(), c->backend().image_pool, kImagePrefix + uuid};
    auto copy = read_image_copy(**io, uuid, where);
    if (!copy.ok()) return copy.status();
    if (copy->has_value()) {
      return directory_put(**io, DirectoryKind::kImages, image_directory_entry(**copy));
    }
    return directory_remove(**io, DirectoryKind::kImages, uuid);
  });
  return first_failure(results, clusters);
}

Result<Json> with_directory(Touches touches, Operation op, Driver& driver, const Json& request,
                            const Progress& progress) {
  std::vector<Status> problems;
  // What a removal names, resolved before it is gone (an image may be named
  // by its name). Nothing is dropped before the operation: listings leave
  // out an entry whose image is gone (list_*_directory), and the refresh
  // after the operation drops it.
  std::string removed;
  if (touches == Touches::kVolumeRemoved) {
    removed = uuid_of(string_field(request, "id"), kVolumePrefix);
  } else if (touches == Touches::kImageRemoved) {
    const std::string id = string_field(request, "id");
    removed = uuid_of(id, kImagePrefix);
    if (removed.empty() && !id.empty()) {
      auto found = find_image(driver, id);  // the operation resolves it the same way
      if (found.ok()) removed = found->id;
    }
  }

  auto answer = op(driver, request, progress);
  // A test's crash (=kill) or failure between the operation and its
  // directory update: the difference backend.check reports.
  Status fault = inject_fault("directory.after-operation");
  if (!fault.ok()) {
    if (!answer.ok()) return answer;
    (*answer)["warnings"].push_back(
        "the directory was not brought up to date (backend.check "
        "repairs it): " +
        fault.message());
    return answer;
  }

  // After: what was touched is read back from its images, whether the
  // operation succeeded or not (a failed one may have changed something, or
  // nothing; a removal that failed keeps its entry, one that succeeded drops it).
  switch (touches) {
    case Touches::kNothing:
      break;
    case Touches::kVolumeFromAnswer:
      if (answer.ok() && !request.value("dry_run", false)) {
        const std::string uuid = uuid_of(string_field(*answer, "id"), kVolumePrefix);
        if (!uuid.empty()) {
          problems.push_back(sync_volume_in(driver, uuid, string_field(*answer, "backend")));
        }
      }
      break;
    case Touches::kVolumeFromRequest:
    case Touches::kVolumeFromRequestVolume: {
      const char* field = touches == Touches::kVolumeFromRequest ? "id" : "volume";
      const std::string uuid = uuid_of(string_field(request, field), kVolumePrefix);
      if (!uuid.empty()) problems.push_back(sync_volume_entry(driver, uuid));
      break;
    }
    case Touches::kVolumeFromAnswerVolume:
      if (answer.ok()) {
        const std::string uuid = uuid_of(string_field(*answer, "volume"), kVolumePrefix);
        if (!uuid.empty()) problems.push_back(sync_volume_entry(driver, uuid));
      }
      break;
    case Touches::kVolumeRemoved:
      if (!removed.empty()) problems.push_back(sync_volume_entry(driver, removed));
      break;
    case Touches::kImageFromAnswer:
      if (answer.ok()) {
        const std::string uuid = uuid_of(string_field(*answer, "id"), kImagePrefix);
        if (!uuid.empty()) problems.push_back(sync_image_entries(driver, uuid));
      }
      break;
    case Touches::kImageRemoved:
      if (!removed.empty()) problems.push_back(sync_image_entries(driver, removed));
      break;
  }
  if (!answer.ok()) return answer;
  for (const auto& p : problems) {
    if (p.ok()) continue;
    if (!answer->is_object()) break;
    (*answer)["warnings"].push_back(
        "the directory was not brought up to date (backend.check "
        "repairs it): " +
        p.message());
  }
  return answer;
}

namespace {

// The entries of `io`'s directory of `kind` whose RBD image the pool holds
// (one read of RBD's own directory of image names, rbd_directory): an image
// removed by an outside tool, or by a process that died before dropping its
// entry, is never listed.
Result<std::vector<Json>> existing_entries(Pool& io, DirectoryKind kind,
                                           const DirectoryScan& scan) {
  ASSIGN_OR_RETURN(auto entries, directory_entries(io, kind, scan));
  ASSIGN_OR_RETURN(auto names, list_images(io));
  std::sort(names.begin(), names.end());
  const std::string& prefix = kind == DirectoryKind::kVolumes ? kVolumePrefix : kImagePrefix;
  std::vector<Json> out;
  out.reserve(entries.size());
  for (auto& e : entries) {
    if (std::binary_search(names.begin(), names.end(), prefix + e.at("id").get<std::string>())) {
      out.push_back(std::move(e));
    }
  }
  return out;
}

}  // namespace

Result<Json> find_volume_in_directory(Driver& driver, const std::string& uuid) {
  auto clusters = clusters_named(driver, "");
  auto found = fan_out(clusters, [&](Cluster* c) -> Result<Json> {
    ASSIGN_OR_RETURN(auto io, c->open_volume_pool());
    ASSIGN_OR_RETURN(Json entry, directory_get(*io, DirectoryKind::kVolumes, uuid));
    // An entry whose image is gone (a removal that died before dropping
    // it) is not the volume.
    ASSIGN_OR_RETURN(bool held, rbd_directory_holds(*io, kVolumePrefix + uuid));
    if (!held) return Status::NotFound("volume " + uuid + " is not in backend " + c->id());
    return volume_listing_item(driver, *c, entry);
  });
  Status failure = Status::NotFound("volume " + uuid + " has no directory entry");
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].ok()) return std::move(found[i]).value();
    if (found[i].status().err() != ENOENT) {
      failure = found[i].status().Prefixed("backend " + clusters[i]->id());
    }
  }
  return failure;
}

Result<std::vector<Cluster*>> listed_clusters(Driver& driver, const std::string& backend) {
  std::vector<Cluster*> clusters;
  std::string known;
  for (auto& c : driver.clusters()) {
    known += (known.empty() ? "" : ", ") + c->id();
    if (backend.empty() || c->id() == backend) clusters.push_back(c.get());
  }
  if (clusters.empty()) {
    return Status::NotFound("unknown backend '" + backend + "' (known: " + known + ")");
  }
  return clusters;
}

Result<std::vector<Json>> list_volume_directory(Driver& driver, Cluster& cluster) {
  ASSIGN_OR_RETURN(auto io, cluster.open_volume_pool());
  ASSIGN_OR_RETURN(auto entries, existing_entries(*io, DirectoryKind::kVolumes, [&] {
                     return scan_volume_pool(driver, cluster, *io);
                   }));
  std::vector<Json> items;
  items.reserve(entries.size());
  for (const auto& e : entries) items.push_back(volume_listing_item(driver, cluster, e));
  return items;
}

Result<std::vector<Json>> list_image_directory(Cluster& cluster) {
  ASSIGN_OR_RETURN(auto io, cluster.open_image_pool());
  return existing_entries(*io, DirectoryKind::kImages,
                          [&] { return scan_image_pool(cluster, *io); });
}

}  // namespace rbdvol::plugin
