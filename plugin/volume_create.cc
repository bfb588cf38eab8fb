// volume.create: a volume of a disk type, blank or from an image. From an
// image it lands on a matching backend that already holds the image and is a
// copy-on-write clone of the image's protected snapshot.
#include <algorithm>

#include "plugin/catalog.h"
#include "plugin/fan_out.h"
#include "plugin/fault_injection.h"
#include "plugin/image_copy.h"
#include "plugin/naming.h"
#include "plugin/operations.h"
#include "plugin/placement.h"
#include "plugin/rbd_image.h"
#include "plugin/request.h"
#include "plugin/volume_record.h"

namespace rbdvol::plugin {

namespace {

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out.empty() ? "(none)" : out;
}

std::string known_disk_types(const config::Config& config) {
  std::vector<std::string> names;
  for (const auto& t : config.disk_types) names.push_back(t.name);
  return join(names);
}

// Everything after the RBD image exists: size, features, metadata. Undone
// by the caller (the image is removed) when it fails.
Status finish_volume(rados_ioctx_t io, const std::string& rbd_name, const config::DiskType& type,
                     uint64_t size, const std::string& name, const std::string& source_image) {
  auto image = open_image(io, rbd_name, false);
  if (!image.ok()) return image.status();
  auto current = image_size(image->get());
  if (!current.ok()) return current.status();
  if (size > *current) {
    int r = rbd_resize(image->get(), size);
    if (r < 0)
      return Status::Error(
          r, "cannot grow to " + std::to_string(size) + " bytes: " + ceph_strerror(r));
  }
  if (type.multiattach) {
    Status s = disable_multiattach_features(image->get());
    if (!s.ok()) return s;
  }
  const std::pair<const std::string&, std::string> values[] = {
      {meta::kDiskType, type.name},       {meta::kName, name},
      {meta::kSourceImage, source_image}, {meta::kCreatedAt, utc_now_iso8601()},
      {meta::kAttachments, "[]"},
  };
  for (const auto& [key, value] : values) {
    Status s = metadata_set(image->get(), key, value);
    if (!s.ok()) return s;
  }
  // A clone inherits its parent's image metadata; drop what describes images.
  for (const std::string& key : {meta::kImageFormat, meta::kImageSourceSize}) {
    int r = rbd_metadata_remove(image->get(), key.c_str());
    if (r < 0 && r != -ENOENT)
      return Status::Error(r, "cannot remove metadata " + key + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

}  // namespace

Result<Json> volume_create(Driver& driver, const Json& request, const Progress& progress) {
  auto type_name = required_string(request, "disk_type");
  if (!type_name.ok()) return type_name.status();
  auto image_ref = optional_string(request, "image");
  if (!image_ref.ok()) return image_ref.status();
  auto requested_size = optional_size(request, "size");
  if (!requested_size.ok()) return requested_size.status();
  auto name = optional_string(request, "name");
  if (!name.ok()) return name.status();
  auto dry_run = optional_bool(request, "dry_run", false);
  if (!dry_run.ok()) return dry_run.status();

  const config::DiskType* type = driver.config().find_disk_type(*type_name);
  if (!type) {
    return Status::NotFound("unknown disk type '" + *type_name +
                            "' (known: " + known_disk_types(driver.config()) + ")");
  }
  if (image_ref->empty() && !requested_size->has_value()) {
    return Status::Invalid("volume.create needs a size or a source image");
  }

  // Backends whose tags match the disk type; the others are named with why.
  std::vector<Cluster*> matching;
  Json verdicts = Json::array();
  for (auto& c : driver.clusters()) {
    if (config::backend_matches(c->backend(), type->tags)) {
      matching.push_back(c.get());
    } else {
      verdicts.push_back(
          {{"backend", c->id()},
           {"chosen", false},
           {"reason", "tags " + join(c->backend().tags) + " lack one of " + join(type->tags)}});
    }
  }
  if (matching.empty()) {
    std::string detail;
    for (auto& c : driver.clusters()) detail += "; " + c->id() + " has " + join(c->backend().tags);
    return Status::Invalid("disk type '" + type->name + "' needs tags " + join(type->tags) +
                           " and no backend carries them all" + detail);
  }

  std::optional<ImageRecord> source;
  if (!image_ref->empty()) {
    auto found = find_image(driver, *image_ref);
    if (!found.ok()) return found.status();
    source = std::move(found).value();
    if (requested_size->has_value() && **requested_size < source->size) {
      return Status::Invalid("size " + std::to_string(**requested_size) +
                             " is smaller than image " + source->id + " (" +
                             std::to_string(source->size) + " bytes)");
    }
  }
  const uint64_t size = requested_size->has_value() ? **requested_size : source->size;

  auto capacities = fan_out(matching, [](Cluster* c) { return c->capacity(); });
  std::vector<Candidate> candidates;
  for (size_t i = 0; i < matching.size(); ++i) {
    Candidate cand;
    cand.backend = matching[i]->id();
    cand.weight = matching[i]->backend().weight;
    cand.reachable = capacities[i].ok();
    if (cand.reachable) {
      cand.free_bytes = capacities[i]->free_bytes;
    } else {
      cand.unreachable_reason = capacities[i].status().message();
    }
    if (source) {
      cand.holds_source =
          std::any_of(source->locations.begin(), source->locations.end(),
                      [&](const ImageLocation& l) { return l.backend == cand.backend; });
    }
    candidates.push_back(cand);
  }
  const std::string source_label = source ? "image " + source->id : "";
  auto placement = pick_backend(candidates, source.has_value(), source_label);
  if (!placement.ok()) return placement.status().Prefixed("disk type " + type->name);
  for (const auto& v : placement->verdicts) {
    verdicts.push_back({{"backend", v.backend}, {"chosen", v.chosen}, {"reason", v.reason}});
  }
  const std::string method = !source ? "blank" : placement->holds_source ? "clone" : "copy";

  Cluster* cluster = driver.cluster(placement->backend);
  const std::string uuid = new_uuid();
  const std::string rbd_name = kVolumePrefix + uuid;
  Json answer = {
      {"id", uuid},
      {"name", *name},
      {"backend", placement->backend},
      {"pool", cluster->backend().volume_pool},
      {"image", rbd_name},
      {"size", size},
      {"disk_type", type->name},
      {"multiattach", type->multiattach},
      {"method", method},
      {"reason", placement->reason},
      {"candidates", verdicts},
      {"source_image", source ? source->id : ""},
      {"dry_run", *dry_run},
  };
  if (*dry_run) return answer;
  if (method == "copy") {
    // No matching backend holds the image: copy it once into the chosen
    // backend's image pool; this volume and later ones clone that copy.
    auto copied = copy_image_to_backend(driver, *source, *cluster, progress);
    if (!copied.ok()) return copied.status().Prefixed("volume.create");
    answer["steps"] = {"copy", "clone"};
  } else if (source) {
    answer["steps"] = {"clone"};
  } else {
    answer["steps"] = {"create"};
  }
  auto vol_io = cluster->open_volume_pool();
  if (!vol_io.ok()) return vol_io.status();
  int r = 0;
  if (source) {
    auto img_io = cluster->open_image_pool();
    if (!img_io.ok()) return img_io.status();
    rbd_image_options_t opts;
    rbd_image_options_create(&opts);
    r = rbd_clone3(img_io->get(), (kImagePrefix + source->id).c_str(), kImageSnapshot.c_str(),
                   vol_io->get(), rbd_name.c_str(), opts);
    rbd_image_options_destroy(opts);
    if (r < 0) {
      return Status::Error(r, "cannot clone " +
                                  image_spec(img_io->get(), kImagePrefix + source->id) + "@" +
                                  kImageSnapshot + " to " + image_spec(vol_io->get(), rbd_name) +
                                  " on backend " + cluster->id() + ": " + ceph_strerror(r));
    }
  } else {
    int order = 0;
    r = rbd_create(vol_io->get(), rbd_name.c_str(), size, &order);
    if (r < 0) {
      return Status::Error(r, "cannot create " + image_spec(vol_io->get(), rbd_name) +
                                  " on backend " + cluster->id() + ": " + ceph_strerror(r));
    }
  }
  Status s = inject_fault("volume.create:after-create");
  if (s.ok())
    s = finish_volume(vol_io->get(), rbd_name, *type, size, *name, source ? source->id : "");
  if (!s.ok()) {
    Status undo = remove_image_and_snapshots(vol_io->get(), rbd_name);
    return Status::Error(
        s.err(),
        "volume " + uuid + " on backend " + cluster->id() + ": " + s.message() +
            (undo.ok() ? " (removed again)" : " (removing it failed too: " + undo.message() + ")"));
  }
  return answer;
}

}  // namespace rbdvol::plugin
