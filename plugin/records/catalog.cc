#include "plugin/records/catalog.h"

#include <algorithm>
#include <map>
#include <optional>

#include "plugin/ceph/rbd_image.h"
#include "plugin/fan_out.h"
#include "plugin/fault_injection.h"
#include "plugin/ops/request.h"
#include "plugin/records/directory.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

Result<std::string> new_unused_id(Driver& driver, const std::string& prefix,
                                  const std::string& chosen) {
  const std::string uuid = !chosen.empty() ? chosen : forced_id().value_or(new_uuid());
  const std::string rbd_name = prefix + uuid;
  const bool volume = prefix == kVolumePrefix;
  auto clusters = driver.cluster_list();
  auto found = fan_out(clusters, [&](Cluster* c) -> Status {
    auto io = volume ? c->open_volume_pool() : c->open_image_pool();
    if (!io.ok()) return io.status();
    return image_exists(**io, rbd_name);
  });
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].ok()) {
      return Status::Exists("the new " + std::string(volume ? "volume" : "image") + " id " + uuid +
                            " already names " + rbd_name + " on backend " + clusters[i]->id() +
                            ": refusing to make a second one (is the random generator broken?)");
    }
  }
  return uuid;
}

Result<VolumeHandle> locate_volume(Driver& driver, const std::string& id) {
  auto uuid = uuid_from_id(id, kVolumePrefix, "volume");
  if (!uuid.ok()) return uuid.status();
  const std::string rbd_name = kVolumePrefix + *uuid;
  auto found = fan_out(driver.cluster_list(), [&](Cluster* c) -> Result<PoolPtr> {
    auto io = c->open_volume_pool();
    if (!io.ok()) return io.status();
    Status s = image_exists(**io, rbd_name);
    if (!s.ok()) return s;
    return std::move(io).value();
  });
  std::string unreachable;
  auto clusters = driver.cluster_list();
  for (size_t i = 0; i < found.size(); ++i) {
    if (found[i].ok()) {
      return VolumeHandle{clusters[i], std::move(found[i]).value(), *uuid, rbd_name};
    }
    if (found[i].status().err() != ENOENT) {
      unreachable += "; " + found[i].status().message();
    }
  }
  // Not found, but a backend that did not answer may hold it: EHOSTUNREACH,
  // so that callers never take it for gone.
  if (!unreachable.empty()) {
    return Status::Error(EHOSTUNREACH,
                         "volume " + *uuid +
                             " not found in the backends that answered (not searched:" +
                             unreachable.substr(1) + ")");
  }
  return Status::NotFound("volume " + *uuid + " not found in any backend");
}

Result<CopyState> image_copy_state(Pool& io, const std::string& uuid) {
  auto image = open_image(io, kImagePrefix + uuid, true);
  if (!image.ok()) {
    if (image.status().err() == ENOENT) return CopyState::kNone;
    return image.status();
  }
  auto complete = metadata_get(**image, meta::kComplete);
  if (complete.ok()) return CopyState::kComplete;
  if (complete.status().err() == ENOENT) return CopyState::kPartial;
  return complete.status().Prefixed(image_spec(io, kImagePrefix + uuid));
}

// Its fields come from one read of its metadata.
Result<std::optional<ImageRecord>> read_image_copy(Pool& io, const std::string& uuid,
                                                   const ImageLocation& where) {
  auto image = open_image(io, where.rbd_name, true);
  if (!image.ok()) {
    if (image.status().err() == ENOENT) return std::optional<ImageRecord>();
    return image.status();
  }
  auto values = metadata_list(**image, meta::kPrefix);
  if (!values.ok()) return values.status().Prefixed(image_spec(io, where.rbd_name));
  if (values->count(meta::kComplete) == 0) return std::optional<ImageRecord>();
  auto value = [&](const std::string& key, const std::string& otherwise) {
    auto it = values->find(key);
    return it == values->end() ? otherwise : it->second;
  };
  ImageRecord rec;
  rec.id = uuid;
  auto size = image_size(**image);
  if (!size.ok()) return size.status().Prefixed(image_spec(io, where.rbd_name));
  rec.size = *size;
  rec.name = value(meta::kName, "");
  rec.format = value(meta::kImageFormat, "raw");
  rec.checksum = value(meta::kImageChecksum, "");
  rec.created_at = value(meta::kComplete, "");
  rec.locations.push_back(where);
  return std::optional<ImageRecord>(std::move(rec));
}

Json image_directory_entry(const ImageRecord& rec) {
  return Json{{"id", rec.id},         {"name", rec.name},         {"size", rec.size},
              {"format", rec.format}, {"checksum", rec.checksum}, {"created_at", rec.created_at}};
}

Result<std::vector<Json>> scan_image_pool(Cluster& cluster, Pool& io) {
  auto names = list_images(io);
  if (!names.ok()) return names.status().Prefixed("backend " + cluster.id());
  std::vector<Json> entries;
  for (const auto& name : *names) {
    if (name.compare(0, kImagePrefix.size(), kImagePrefix) != 0) continue;
    const std::string uuid = name.substr(kImagePrefix.size());
    if (!is_uuid(uuid)) continue;
    auto rec = read_image_copy(io, uuid, {cluster.id(), cluster.backend().image_pool, name});
    if (!rec.ok()) return rec.status().Prefixed("backend " + cluster.id());
    if (rec->has_value()) entries.push_back(image_directory_entry(**rec));
  }
  return entries;
}

ImageCatalog list_image_catalog(Driver& driver, const std::string& only_uuid) {
  struct PerBackend {
    Status status;
    std::vector<ImageRecord> images;
    std::vector<ImageCatalog::Unreadable> unreadable;
  };
  auto clusters = driver.cluster_list();
  auto per_backend = fan_out(clusters, [&only_uuid](Cluster* c) {
    PerBackend out;
    const std::string pool = c->backend().image_pool;
    auto io = c->open_image_pool();
    if (!io.ok()) {
      out.status = io.status();
      return out;
    }
    std::vector<std::string> uuids;
    if (!only_uuid.empty()) {
      uuids.push_back(only_uuid);  // one probe instead of reading the whole pool
    } else {
      auto names = list_images(**io);
      if (!names.ok()) {
        out.status = names.status();
        return out;
      }
      for (const auto& name : *names) {
        if (name.compare(0, kImagePrefix.size(), kImagePrefix) != 0) continue;
        if (is_uuid(name.substr(kImagePrefix.size())))
          uuids.push_back(name.substr(kImagePrefix.size()));
      }
    }
    for (const auto& uuid : uuids) {
      auto rec = read_image_copy(**io, uuid, {c->id(), pool, kImagePrefix + uuid});
      if (!rec.ok()) {
        // Not left out without a word: the image is there but cannot be
        // read now (a lost connection, an OSD op timeout, EIO).
        out.unreadable.push_back({c->id(), uuid, rec.status().message()});
      } else if (rec->has_value()) {
        out.images.push_back(std::move(**rec));
      }
    }
    return out;
  });

  ImageCatalog catalog;
  std::map<std::string, ImageRecord> by_id;
  for (size_t i = 0; i < per_backend.size(); ++i) {
    if (!per_backend[i].status.ok()) {
      catalog.unreachable.emplace_back(clusters[i]->id(), per_backend[i].status.message());
      continue;
    }
    for (auto& u : per_backend[i].unreadable) catalog.unreadable.push_back(std::move(u));
    for (auto& rec : per_backend[i].images) {
      auto it = by_id.find(rec.id);
      if (it == by_id.end()) {
        by_id.emplace(rec.id, std::move(rec));
      } else {
        it->second.locations.push_back(rec.locations.front());
        if (it->second.name.empty()) it->second.name = rec.name;
        if (it->second.checksum.empty()) it->second.checksum = rec.checksum;
      }
    }
  }
  for (auto& [id, rec] : by_id) catalog.images.push_back(std::move(rec));
  std::sort(catalog.images.begin(), catalog.images.end(),
            [](const ImageRecord& a, const ImageRecord& b) {
              return a.name != b.name ? a.name < b.name : a.id < b.id;
            });
  return catalog;
}

namespace {

// The partial image-<uuid> in `io`'s pool, or nullopt when there is none (no
// such image, or a complete one).
Result<std::optional<PartialImage>> read_partial_image(Pool& io, const std::string& uuid,
                                                       const ImageLocation& where) {
  using Found = std::optional<PartialImage>;
  auto image = open_image(io, where.rbd_name, true);
  if (!image.ok()) {
    if (image.status().err() == ENOENT) return Found();
    return image.status();
  }
  auto values = metadata_list(**image, meta::kPrefix);
  if (!values.ok()) return values.status().Prefixed(image_spec(io, where.rbd_name));
  if (values->count(meta::kComplete)) return Found();
  PartialImage p;
  p.id = uuid;
  p.where = where;
  auto size = image_size(**image);
  p.size = size.ok() ? *size : 0;
  auto incomplete = values->find(meta::kIncomplete);
  if (incomplete != values->end()) p.incomplete = incomplete->second;
  // image.upload and image.copy set it: "upload of <file> by ...", "copy of
  // <backend image> by ...".
  for (const char* kind : {"upload", "copy"}) {
    if (p.incomplete.rfind(std::string(kind) + " of ", 0) == 0) p.kind = kind;
  }
  image->reset();  // closed before the record is read

  auto header = read_chunk_record_header(io, where.rbd_name, &p.record_version);
  if (!header.ok()) return header.status();
  if (*header && (*header)->source == kTransferSource) {
    // A streamed transfer (transfer/image_transfer.h) is written by any
    // number of calls, each with the image open while it writes: it is
    // running while one is, idle (and may be removed) between them.
    p.record = **header;
    p.kind = "transfer";
    auto digests = read_chunk_digests(io, where.rbd_name, *p.record);
    if (!digests.ok()) return digests.status();
    for (const auto& d : *digests) p.chunks_confirmed += d.has_value();
    auto writer = live_writer(io, where.rbd_name);
    if (!writer.ok()) {
      if (writer.status().err() == ENOENT) return Found();
      return writer.status();
    }
    p.running = !writer->empty();
    p.how = writer->empty() ? std::string("transfer: no client writes it now (idle)")
                            : "transfer: client " + *writer + " writes it";
  } else if (*header) {
    p.record = **header;
    auto digests = read_chunk_digests(io, where.rbd_name, *p.record);
    if (!digests.ok()) return digests.status();
    for (const auto& d : *digests) p.chunks_confirmed += d.has_value();
    auto running = owner_is_running(io, where.rbd_name, p.record->owner, &p.how);
    if (!running.ok()) return running.status();
    p.running = *running;
    p.how = "process " + p.record->owner + " " + p.how;
  } else {
    auto writer = live_writer(io, where.rbd_name);
    if (!writer.ok()) {
      if (writer.status().err() == ENOENT) return Found();
      return writer.status();
    }
    p.running = !writer->empty();
    p.how = "no chunk record; " + (writer->empty() ? std::string("no client holds its lock")
                                                   : "client " + *writer + " holds its lock");
    if (!p.running) {
      auto holder = exclusive_lock_holder(io, where.rbd_name);
      if (!holder.ok()) {
        if (holder.status().err() == ENOENT) return Found();
        return holder.status();
      }
      if (*holder && !(*holder)->watching) {
        p.dead_lock_holder = (*holder)->entity;
        p.how =
            "no chunk record; " + p.dead_lock_holder + " holds its lock and no longer watches it";
      }
    }
  }
  return Found(std::move(p));
}

}  // namespace

std::vector<std::string> dead_writer_clients(const PartialImage& partial) {
  if (partial.record) return recorded_writer_clients(*partial.record);
  if (partial.dead_lock_holder.empty()) return {};
  return {partial.dead_lock_holder};
}

Result<std::vector<PartialImage>> list_partial_images(Cluster& cluster,
                                                      const std::string& only_uuid) {
  auto io = cluster.open_image_pool();
  if (!io.ok()) return io.status();
  std::vector<std::string> uuids;
  if (!only_uuid.empty()) {
    uuids.push_back(only_uuid);
  } else {
    auto names = list_images(**io);
    if (!names.ok()) return names.status().Prefixed("backend " + cluster.id());
    for (const auto& name : *names) {
      if (name.compare(0, kImagePrefix.size(), kImagePrefix) != 0) continue;
      if (is_uuid(name.substr(kImagePrefix.size())))
        uuids.push_back(name.substr(kImagePrefix.size()));
    }
    std::sort(uuids.begin(), uuids.end());
  }
  std::vector<PartialImage> out;
  for (const auto& uuid : uuids) {
    const ImageLocation where{cluster.id(), cluster.backend().image_pool, kImagePrefix + uuid};
    auto partial = read_partial_image(**io, uuid, where);
    if (!partial.ok()) return partial.status().Prefixed("backend " + cluster.id());
    if (*partial) out.push_back(std::move(**partial));
  }
  return out;
}

Json partial_image_json(const PartialImage& p) {
  Json j = {{"id", p.id},
            {"backend", p.where.backend},
            {"pool", p.where.pool},
            {"image", p.where.rbd_name},
            {"size", p.size},
            {"kind", p.kind},
            {"incomplete", p.incomplete},
            {"running", p.running},
            {"how", p.how},
            {"chunks_confirmed", p.chunks_confirmed}};
  if (p.record) {
    j["source"] = p.record->source;
    j["owner"] = p.record->owner;
    j["started_at"] = p.record->started_at;
    j["chunks"] = p.record->chunks();
    j["record_state"] = p.record->state;
  } else {
    j["source"] = j["owner"] = j["started_at"] = j["record_state"] = "";
    j["chunks"] = 0;
  }
  return j;
}

Json image_record_json(const ImageRecord& rec) {
  Json locations = Json::array();
  for (const auto& l : rec.locations) {
    locations.push_back({{"backend", l.backend}, {"pool", l.pool}, {"image", l.rbd_name}});
  }
  return Json{{"id", rec.id},          {"name", rec.name},         {"size", rec.size},
              {"format", rec.format},  {"checksum", rec.checksum}, {"created_at", rec.created_at},
              {"locations", locations}};
}

namespace {

// The ids of the images called `name` in every backend (from their image
// directories; a backend whose directory another process is filling is read
// the slow way), with the backends that did not answer.
std::vector<std::string> image_ids_named(
    Driver& driver, const std::string& name,
    std::vector<std::pair<std::string, std::string>>* unreachable) {
  auto clusters = driver.cluster_list();
  auto per_backend = fan_out(clusters, [&name](Cluster* c) -> Result<std::vector<std::string>> {
    auto io = c->open_image_pool();
    if (!io.ok()) return io.status();
    auto scan = [&] { return scan_image_pool(*c, **io); };
    auto built = directory_ensure_built(**io, DirectoryKind::kImages, scan);
    if (!built.ok()) return built.status().Prefixed("backend " + c->id());
    if (*built) return directory_find_name(**io, DirectoryKind::kImages, name);
    auto entries = scan();
    if (!entries.ok()) return entries.status();
    std::vector<std::string> ids;
    for (const auto& e : *entries) {
      if (e.value("name", "") == name) ids.push_back(e.at("id").get<std::string>());
    }
    return ids;
  });
  std::vector<std::string> ids;
  for (size_t i = 0; i < per_backend.size(); ++i) {
    if (!per_backend[i].ok()) {
      unreachable->emplace_back(clusters[i]->id(), per_backend[i].status().message());
      continue;
    }
    for (auto& id : *per_backend[i]) {
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(std::move(id));
    }
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

Result<ImageRecord> find_image(Driver& driver, const std::string& id_or_name) {
  auto uuid = uuid_from_id(id_or_name, kImagePrefix, "image");
  std::vector<const ImageRecord*> matches;
  std::vector<ImageCatalog> catalogs;
  std::vector<std::pair<std::string, std::string>> unreachable;
  if (uuid.ok()) {
    catalogs.push_back(list_image_catalog(driver, *uuid));
  } else {
    // The directory's name keys are hints: each id is probed, and kept only
    // when its copies still carry the name.
    for (const auto& id : image_ids_named(driver, id_or_name, &unreachable)) {
      catalogs.push_back(list_image_catalog(driver, id));
    }
  }
  for (const auto& catalog : catalogs) {
    for (const auto& rec : catalog.images) {
      if ((uuid.ok() && rec.id == *uuid) || (!uuid.ok() && rec.name == id_or_name)) {
        matches.push_back(&rec);
      }
    }
    for (const auto& u : catalog.unreachable) unreachable.push_back(u);
  }
  std::string not_searched;
  for (const auto& [backend, error] : unreachable) {
    if (not_searched.find(error) == std::string::npos) not_searched += "; " + error;
  }
  if (matches.empty() && !not_searched.empty()) {
    return Status::Error(EHOSTUNREACH,
                         "image '" + id_or_name +
                             "' not found in the backends that answered (not searched:" +
                             not_searched.substr(1) + ")");
  }
  if (matches.empty())
    return Status::NotFound("image '" + id_or_name + "' not found in any backend");
  if (matches.size() > 1) {
    std::string ids;
    for (const auto* m : matches) ids += " " + m->id;
    return Status::Invalid("image name '" + id_or_name + "' is ambiguous; use an id:" + ids);
  }
  return *matches.front();
}

Result<std::string> optional_backend(Driver& driver, const Json& request) {
  auto backend = optional_string(request, "backend");
  if (!backend.ok()) return backend.status();
  if (!backend->empty()) {
    auto named = driver.enabled_cluster(*backend);
    if (!named.ok()) return named.status();
  }
  return backend;
}

}  // namespace rbdvol::plugin
