#include "plugin/ops/directory_sync.h"

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <thread>

#include "plugin/ceph/rbd_image.h"
#include "plugin/fan_out.h"
#include "plugin/fault_injection.h"
#include "plugin/records/catalog.h"
#include "plugin/records/directory.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

namespace {

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

// How many times a refresh reads the image and its entry again when another
// process wrote to the entry's shard in between (directory_put_if).
constexpr int kRefreshAttempts = 12;

// Brings uuid's entry in `io`'s directory of `kind` up to date with what
// `from_image` reads of its RBD image `rbd_name` (its entry, or none when
// the pool does not hold it as one), so that of two processes refreshing it
// at once the one that read the image last writes last. The entry is read
// (with its shard's version) before the image, and written only while the
// shard is unchanged: another process that changed the image and wrote
// its entry in between makes the write fail, and this refresh starts over
// from the image. A removal that found no entry to drop writes nothing, so
// after a write the image is looked up once more: gone, the refresh starts
// over and drops the entry. The name index keys of attempts that lost (a
// name the volume no longer has) are dropped once one succeeds.
Status refresh_entry(Pool& io, DirectoryKind kind, const std::string& uuid,
                     const std::string& rbd_name,
                     const std::function<Result<std::optional<Json>>()>& from_image) {
  std::set<std::string> names_tried;
  auto done = [&](const std::optional<Json>& entry) -> Status {
    const std::string name = entry ? entry->value("name", "") : "";
    for (const auto& tried : names_tried) {
      if (tried != name) RETURN_IF_ERROR(directory_remove_name_key(io, kind, {tried, uuid}));
    }
    return Status::Ok();
  };
  for (int attempt = 1;; ++attempt) {
    ASSIGN_OR_RETURN(DirectoryRead read, directory_read(io, kind, uuid));
    ASSIGN_OR_RETURN(std::optional<Json> entry, from_image());
    Status s;
    if (entry) {
      // A test stops here (=stop) to change the volume from another process
      // between this refresh's read of the image and its write.
      RETURN_IF_ERROR(inject_fault("directory.refresh:before-put"));
      s = directory_put_if(io, kind, *entry, read);
      if (s.ok()) {
        ASSIGN_OR_RETURN(bool held, rbd_directory_holds(io, rbd_name));
        if (held) return done(entry);
        s = Status::Error(ECANCELED, image_spec(io, rbd_name) + " was removed meanwhile");
      }
      if (!entry->value("name", "").empty()) names_tried.insert(entry->value("name", ""));
    } else {
      s = directory_remove_if(io, kind, uuid, read);
      if (s.ok()) return done(entry);
    }
    if (s.err() != ECANCELED) return s;
    if (attempt >= kRefreshAttempts) {
      return Status::Busy(s.message() + " (gave up after " + std::to_string(attempt) +
                          " attempts)");
    }
    // Apart, so that processes refreshing the same shard do not meet again.
    std::this_thread::sleep_for(
        std::chrono::milliseconds(attempt * 5 + static_cast<int>(::random() % 20)));
  }
}

Status sync_volume_in(Driver& driver, const std::string& uuid, const std::string& backend) {
  auto clusters = driver.cluster_list(backend);
  auto results = fan_out(clusters, [&](Cluster* c) -> Status {
    auto io = c->open_volume_pool();
    if (!io.ok()) return unreachable(io.status()) ? Status::Ok() : io.status();
    VolumeHandle handle{c, std::move(io).value(), uuid, kVolumePrefix + uuid};
    return refresh_entry(*handle.io, DirectoryKind::kVolumes, uuid, handle.rbd_name,
                         [&]() -> Result<std::optional<Json>> {
                           auto record = volume_record(driver, handle);
                           if (record.ok())
                             return std::optional<Json>(volume_directory_entry(*record));
                           if (record.status().err() == ENOENT) return std::optional<Json>();
                           return record.status();
                         });
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
  auto clusters = driver.cluster_list();
  auto results = fan_out(clusters, [&](Cluster* c) -> Status {
    auto io = c->open_image_pool();
    if (!io.ok()) return unreachable(io.status()) ? Status::Ok() : io.status();
    const ImageLocation where{c->id(), c->backend().image_pool, kImagePrefix + uuid};
    return refresh_entry(**io, DirectoryKind::kImages, uuid, where.rbd_name,
                         [&]() -> Result<std::optional<Json>> {
                           ASSIGN_OR_RETURN(auto copy, read_image_copy(**io, uuid, where));
                           if (!copy) return std::optional<Json>();
                           return std::optional<Json>(image_directory_entry(*copy));
                         });
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
      if (request.value("dry_run", false)) break;
      if (answer.ok()) {
        const std::string uuid = uuid_of(string_field(*answer, "id"), kVolumePrefix);
        if (!uuid.empty()) {
          problems.push_back(sync_volume_in(driver, uuid, string_field(*answer, "backend")));
        }
      }
      // A volume made from an image in a backend without a copy of it
      // copied the image there first ("copy" among its steps): that copy
      // is a new entry of the image's. A create that failed may have made
      // the copy before it failed (the copy stays for the next volume).
      if (!string_field(request, "image").empty()) {
        std::string image;
        if (answer.ok()) {
          const Json& steps = answer->value("steps", Json::array());
          if (std::find(steps.begin(), steps.end(), "copy") != steps.end()) {
            image = string_field(*answer, "source_image");
          }
        } else {
          auto found = find_image(driver, string_field(request, "image"));
          if (found.ok()) image = found->id;
        }
        if (!image.empty()) problems.push_back(sync_image_entries(driver, image));
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
  auto clusters = driver.cluster_list();
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
