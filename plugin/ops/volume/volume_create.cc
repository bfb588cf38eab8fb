// volume.create: a volume of a disk type, blank, or from an image, a snapshot
// or another volume. From a source it lands on a matching backend that
// already holds the source and is a copy-on-write clone: of the image's
// protected snapshot `snap` (made by the first volume cloned from that copy of
// the image), of the snapshot itself, or of a hidden snapshot
// rbdvol-clone-<new uuid> taken of the source volume (as Cinder does). A
// clone whose chain of parents gets deeper than max_clone_depth is
// flattened. A source on a backend the disk type does not match is copied.
#include <algorithm>
#include <future>
#include <map>
#include <optional>

#include "plugin/ceph/clone_tree.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/fan_out.h"
#include "plugin/fault_injection.h"
#include "plugin/ops/image/image_copy.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/placement/placement.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/records/snapshot_lookup.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

namespace {

// Everything after the RBD image exists: size, features, metadata, with the
// image open for writing. Undone by the caller (the image is removed) when it
// fails.
Status finish_volume(rbd_image_t image, const config::DiskType& type, uint64_t size,
                     const std::string& name, const std::string& source_image) {
  auto current = image_size(image);
  if (!current.ok()) return current.status();
  if (size > *current) {
    int r = rbd_resize(image, size);
    if (r < 0)
      return Status::Error(
          r, "cannot grow to " + std::to_string(size) + " bytes: " + ceph_strerror(r));
  }
  const std::map<std::string, std::string> values = {
      {meta::kDiskType, type.name},       {meta::kName, name},
      {meta::kSourceImage, source_image}, {meta::kCreatedAt, utc_now_iso8601()},
      {meta::kAttachments, "[]"},
  };
  // A clone inherits its parent's image metadata: the image's, or a source
  // volume's (its disk type, saved features, attachments, snapshot names).
  // None of it describes the new volume: what the volume does not set again
  // is removed.
  auto inherited = metadata_list(image, meta::kPrefix);
  if (!inherited.ok()) return inherited.status();
  std::vector<std::pair<std::string, std::optional<std::string>>> changes;
  for (const auto& [key, value] : *inherited) {
    if (values.count(key) == 0) changes.emplace_back(key, std::nullopt);
  }
  for (const auto& [key, value] : values) changes.emplace_back(key, value);
  // Each change is a librbd request of about 2 ms here (the 11 of a volume
  // from an image took about 20 ms one after another): all at once.
  auto done = fan_out(changes, [image](const auto& change) -> Status {
    if (change.second) return metadata_set(image, change.first, *change.second);
    int r = rbd_metadata_remove(image, change.first.c_str());
    if (r < 0 && r != -ENOENT) {
      return Status::Error(
          r, "cannot remove inherited metadata " + change.first + ": " + ceph_strerror(r));
    }
    return Status::Ok();
  });
  for (const Status& s : done) {
    if (!s.ok()) return s;
  }
  // Last: it records the features it turns off in the metadata.
  return type.multiattach ? disable_multiattach_features(image) : Status::Ok();
}

// What a new volume is made from, when not blank.
struct Source {
  enum class Kind { kImage, kSnapshot, kVolume };
  Kind kind = Kind::kImage;
  std::string label;  // "image <uuid>", "snapshot <uuid>", "volume <uuid>"
  uint64_t size = 0;
  ImageRecord image;                   // kImage
  std::optional<VolumeHandle> volume;  // kSnapshot, kVolume: the volume it is of / is
  std::string snapshot_uuid;           // kSnapshot
  std::string rbd_snap;                // kSnapshot: "snapshot-<uuid>"
};

Result<Source> resolve_source(Driver& driver, const std::string& image_ref,
                              const std::string& snapshot_ref, const std::string& volume_ref) {
  const int given = !image_ref.empty() + !snapshot_ref.empty() + !volume_ref.empty();
  if (given > 1) {
    return Status::Invalid("volume.create takes one source: image, snapshot or source_volume");
  }
  Source source;
  if (!image_ref.empty()) {
    auto found = find_image(driver, image_ref);
    if (!found.ok()) return found.status();
    source.kind = Source::Kind::kImage;
    source.image = std::move(found).value();
    source.label = "image " + source.image.id;
    source.size = source.image.size;
    return source;
  }
  if (!snapshot_ref.empty()) {
    auto found = locate_snapshot(driver, snapshot_ref);
    if (!found.ok()) return found.status();
    source.kind = Source::Kind::kSnapshot;
    source.snapshot_uuid = found->uuid;
    source.rbd_snap = found->rbd_snap;
    source.label = "snapshot " + found->uuid;
    source.volume = std::move(found->volume);
    auto opened = open_image_at(source.volume->io.get(), source.volume->rbd_name, source.rbd_snap);
    if (!opened.ok()) {
      return opened.status().Prefixed("snapshot " + found->uuid + " on backend " +
                                      source.volume->cluster->id());
    }
    ImagePtr at_snap = std::move(opened).value();
    auto size = image_size(at_snap.get());
    if (!size.ok()) return size.status().Prefixed(source.label);
    source.size = *size;
    return source;
  }
  auto found = locate_volume(driver, volume_ref);
  if (!found.ok()) return found.status();
  source.kind = Source::Kind::kVolume;
  source.label = "volume " + found->uuid;
  source.volume = std::move(found).value();
  auto image = open_image(source.volume->io.get(), source.volume->rbd_name, true);
  if (!image.ok()) return image.status().Prefixed("backend " + source.volume->cluster->id());
  auto size = image_size(image->get());
  if (!size.ok()) return size.status().Prefixed(source.label);
  source.size = *size;
  return source;
}

// The snapshot of a source volume or snapshot that the new volume clones,
// made (and protected) for it; undone when the create fails.
struct CloneParent {
  rados_ioctx_t io = nullptr;
  std::string image;
  std::string snap;
  bool created = false;     // a hidden rbdvol-clone-* snapshot made for this volume
  bool protected_ = false;  // protected by this create

  // Leaves the source as it was before the create, as far as nothing else
  // depends on it since.
  Status undo() const {
    if (created) return remove_snapshot(io, image, snap);
    if (!protected_) return Status::Ok();
    auto children = snapshot_children(io, image, snap);
    if (!children.ok() || !children->empty()) return children.status();
    auto opened = open_image(io, image, false);
    if (!opened.ok()) return opened.status();
    int r = rbd_snap_unprotect(opened->get(), snap.c_str());
    if (r < 0) return Status::Error(r, "cannot unprotect " + image_spec(io, image) + "@" + snap);
    return Status::Ok();
  }
};

// Takes (for a source volume) or protects (for a source snapshot) the
// snapshot to clone. Fills `parent` as it goes, so the caller can undo what
// was done even when this fails half way.
Status prepare_clone_parent(const Source& source, const std::string& new_uuid,
                            CloneParent& parent) {
  parent.io = source.volume->io.get();
  parent.image = source.volume->rbd_name;
  parent.snap =
      source.kind == Source::Kind::kVolume ? kCloneSnapshotPrefix + new_uuid : source.rbd_snap;
  const std::string spec = image_spec(parent.io, parent.image) + "@" + parent.snap;
  auto image = open_image(parent.io, parent.image, false);
  if (!image.ok()) return image.status();
  if (source.kind == Source::Kind::kVolume) {
    int r = rbd_snap_create(image->get(), parent.snap.c_str());
    if (r < 0) return Status::Error(r, "cannot create snapshot " + spec + ": " + ceph_strerror(r));
    parent.created = true;
  }
  int is_protected = 0;
  int r = rbd_snap_is_protected(image->get(), parent.snap.c_str(), &is_protected);
  if (r < 0) return Status::Error(r, "cannot read snapshot " + spec + ": " + ceph_strerror(r));
  if (!is_protected) {
    r = rbd_snap_protect(image->get(), parent.snap.c_str());
    if (r < 0 && r != -EBUSY) {
      return Status::Error(r, "cannot protect snapshot " + spec + ": " + ceph_strerror(r));
    }
    parent.protected_ = r == 0;
  }
  return inject_fault("volume.create:after-source-snapshot");
}

// Copies a source volume or snapshot held by a backend the disk type does
// not match into the new volume `rbd_name` of `vol_io` (another cluster). A
// source volume is read at a temporary snapshot, so the copy is consistent
// even while a guest writes to it; the snapshot is removed afterwards.
Status copy_volume_data(const Source& source, const std::string& new_uuid, rados_ioctx_t vol_io,
                        const std::string& rbd_name, const Progress& progress) {
  rados_ioctx_t src_io = source.volume->io.get();
  const std::string& src_name = source.volume->rbd_name;
  if (source.kind == Source::Kind::kSnapshot) {
    return copy_rbd_image(src_io, src_name, source.rbd_snap, vol_io, rbd_name, progress);
  }
  const std::string snap = kCloneSnapshotPrefix + new_uuid;
  {
    auto image = open_image(src_io, src_name, false);
    if (!image.ok()) return image.status();
    int r = rbd_snap_create(image->get(), snap.c_str());
    if (r < 0) {
      return Status::Error(r, "cannot create snapshot " + image_spec(src_io, src_name) + "@" +
                                  snap + ": " + ceph_strerror(r));
    }
  }
  Status s = copy_rbd_image(src_io, src_name, snap, vol_io, rbd_name, progress);
  Status removed = remove_snapshot(src_io, src_name, snap);
  if (!s.ok()) return s;
  if (!removed.ok()) {
    Status undo = remove_image_and_snapshots(vol_io, rbd_name);
    return removed.Prefixed("copied, but the temporary snapshot stays" +
                            std::string(undo.ok() ? "" : " (and " + undo.message() + ")"));
  }
  return Status::Ok();
}

// Flattens the new volume `image` when its clone chain, `depth` deep, is
// deeper than the config allows, so that reads do not walk an ever longer
// chain of parents (progress: stage "flatten"). Fills the answer's
// clone_depth, flattened and flatten_reason.
Status limit_clone_depth(rados_ioctx_t io, rbd_image_t image, int depth, int max_depth,
                         const Progress& progress, Json& answer) {
  answer["clone_depth"] = depth;
  answer["flattened"] = false;
  if (depth <= max_depth) return Status::Ok();
  auto parent = parent_of(image);
  if (!parent.ok()) return parent.status();
  Status s = inject_fault("volume.create:before-flatten");
  if (!s.ok()) return s;
  s = flatten_image(image, "the new clone",
                    [&](uint64_t done, uint64_t total) { progress("flatten", done, total); });
  if (!s.ok()) return s;
  answer["flattened"] = true;
  answer["flatten_reason"] = "the clone chain would be " + std::to_string(depth) +
                             " deep, more than max_clone_depth " + std::to_string(max_depth);
  answer["steps"].push_back("flatten");
  // The source volume's hidden snapshot was only there for this clone.
  s = release_clone_snapshot(io, *parent);
  if (!s.ok()) answer["warning"] = "flattened, but " + s.message();
  return Status::Ok();
}

}  // namespace

Result<Json> volume_create(Driver& driver, const Json& request, const Progress& progress) {
  auto type_name = required_string(request, "disk_type");
  if (!type_name.ok()) return type_name.status();
  auto image_ref = optional_string(request, "image");
  if (!image_ref.ok()) return image_ref.status();
  auto snapshot_ref = optional_string(request, "snapshot");
  if (!snapshot_ref.ok()) return snapshot_ref.status();
  auto volume_ref = optional_string(request, "source_volume");
  if (!volume_ref.ok()) return volume_ref.status();
  auto requested_size = optional_volume_size(request, "size");
  if (!requested_size.ok()) return requested_size.status();
  auto name = optional_name(request, "name", "volume");
  if (!name.ok()) return name.status();
  auto dry_run = optional_bool(request, "dry_run", false);
  if (!dry_run.ok()) return dry_run.status();
  auto chosen_id = optional_string(request, "id");
  if (!chosen_id.ok()) return chosen_id.status();
  if (!chosen_id->empty()) {
    auto uuid = uuid_from_id(*chosen_id, kVolumePrefix, "volume");
    if (!uuid.ok()) return uuid.status();
    *chosen_id = *uuid;
  }

  auto found_type = disk_type_named(driver.config(), *type_name);
  if (!found_type.ok()) return found_type.status();
  const config::DiskType* type = *found_type;
  const bool has_source = !image_ref->empty() || !snapshot_ref->empty() || !volume_ref->empty();
  if (!has_source && !requested_size->has_value()) {
    return Status::Invalid(
        "volume.create needs a size or a source (image, snapshot, source_volume)");
  }

  // Backends whose tags match the disk type; the others are named with why.
  std::vector<Cluster*> matching;
  Json verdicts = Json::array();
  for (auto& c : driver.clusters()) {
    if (config::backend_matches(c->backend(), type->tags)) {
      matching.push_back(c.get());
    } else {
      verdicts.push_back({{"backend", c->id()},
                          {"chosen", false},
                          {"reason", "tags " + name_list(c->backend().tags) + " lack one of " +
                                         name_list(type->tags)}});
    }
  }
  if (matching.empty()) {
    std::string detail;
    for (auto& c : driver.clusters())
      detail += "; " + c->id() + " has " + name_list(c->backend().tags);
    return Status::Invalid("disk type '" + type->name + "' needs tags " + name_list(type->tags) +
                           " and no backend carries them all" + detail);
  }

  std::optional<Source> source;
  if (has_source) {
    auto found = resolve_source(driver, *image_ref, *snapshot_ref, *volume_ref);
    if (!found.ok()) return found.status();
    source = std::move(found).value();
    if (requested_size->has_value() && **requested_size < source->size) {
      return Status::Invalid(
          "size " + std::to_string(**requested_size) + " is smaller than " +
          (source->kind == Source::Kind::kImage ? "image " + source->image.id : source->label) +
          " (" + std::to_string(source->size) + " bytes)");
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
    if (source && source->kind == Source::Kind::kImage) {
      cand.holds_source =
          std::any_of(source->image.locations.begin(), source->image.locations.end(),
                      [&](const ImageLocation& l) { return l.backend == cand.backend; });
    } else if (source) {
      cand.holds_source = source->volume->cluster->id() == cand.backend;
    }
    candidates.push_back(cand);
  }
  auto placement =
      pick_backend(candidates, source.has_value(), source ? source->label : std::string());
  if (!placement.ok()) return placement.status().Prefixed("disk type " + type->name);
  for (const auto& v : placement->verdicts) {
    verdicts.push_back({{"backend", v.backend}, {"chosen", v.chosen}, {"reason", v.reason}});
  }
  const std::string method = !source ? "blank" : placement->holds_source ? "clone" : "copy";

  Cluster* cluster = driver.cluster(placement->backend);
  ASSIGN_OR_RETURN(const std::string uuid, new_unused_id(driver, kVolumePrefix, *chosen_id));
  const std::string rbd_name = kVolumePrefix + uuid;
  const bool from_image = source && source->kind == Source::Kind::kImage;
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
      {"source_image", from_image ? source->image.id : ""},
      {"source_snapshot",
       source && source->kind == Source::Kind::kSnapshot ? source->snapshot_uuid : ""},
      {"source_volume", source && !from_image ? source->volume->uuid : ""},
      {"dry_run", *dry_run},
  };
  if (*dry_run) return answer;

  answer["steps"] = Json::array();
  auto vol_io = cluster->open_volume_pool();
  if (!vol_io.ok()) return vol_io.status();
  const std::string where = "volume " + uuid + " on backend " + cluster->id();
  CloneParent parent;
  bool image_made = false;
  Status s;
  if (!source) {
    answer["steps"].push_back("create");
    int order = 0;
    int r = rbd_create(vol_io->get(), rbd_name.c_str(), size, &order);
    if (r < 0) {
      return Status::Error(r, "cannot create " + image_spec(vol_io->get(), rbd_name) +
                                  " on backend " + cluster->id() + ": " + ceph_strerror(r));
    }
    image_made = true;
  } else if (method == "copy" && from_image) {
    // No matching backend holds the image: copy it once into the chosen
    // backend's image pool (or wait for the process copying it there now);
    // this volume and later ones clone that copy.
    bool waited = false, copied_here = false;
    auto copied =
        copy_or_await_image(driver, source->image, *cluster, progress, &waited, &copied_here);
    if (!copied.ok()) return copied.status().Prefixed("volume.create");
    if (waited) answer["steps"].push_back("wait");
    if (copied_here) answer["steps"].push_back("copy");
  } else if (method == "copy") {
    s = copy_volume_data(*source, uuid, vol_io->get(), rbd_name, progress);
    image_made = s.ok();
    if (s.ok()) answer["steps"].push_back("copy");
  }
  if (source && method == "clone" && !from_image) {
    s = prepare_clone_parent(*source, uuid, parent);
    if (s.ok() && parent.created) answer["steps"].push_back("snapshot");
    if (s.ok()) {
      answer["clone_of"] = image_spec(parent.io, parent.image) + "@" + parent.snap;
    }
  }
  if (s.ok() && source && (method == "clone" || from_image)) {
    // The parent snapshot: the image's `snap` in the chosen backend's image
    // pool, or the source volume's snapshot prepared above.
    IoCtxPtr img_io;
    rados_ioctx_t parent_io = parent.io;
    std::string parent_image = parent.image, parent_snap = parent.snap;
    if (from_image) {
      auto opened = cluster->open_image_pool();
      if (!opened.ok()) return opened.status();
      img_io = std::move(opened).value();
      parent_io = img_io.get();
      parent_image = kImagePrefix + source->image.id;
      parent_snap = kImageSnapshot;
      // A copy gets its snapshot from the first volume cloned from it. Not
      // removed again if the clone fails: other volumes may be cloning it
      // at the same moment, and it is harmless.
      auto made = ensure_image_snapshot(parent_io, parent_image, [&] {
        return release_dead_copier_lock(parent_io, parent_image);
      });
      if (!made.ok()) {
        s = made.status().Prefixed("image " + source->image.id + " on backend " + cluster->id());
      } else if (*made) {
        answer["steps"].push_back("snapshot");
      }
    }
    if (s.ok()) {
      rbd_image_options_t opts;
      rbd_image_options_create(&opts);
      int r = rbd_clone3(parent_io, parent_image.c_str(), parent_snap.c_str(), vol_io->get(),
                         rbd_name.c_str(), opts);
      rbd_image_options_destroy(opts);
      if (r < 0) {
        s = Status::Error(r, "cannot clone " + image_spec(parent_io, parent_image) + "@" +
                                 parent_snap + " to " + image_spec(vol_io->get(), rbd_name) + ": " +
                                 ceph_strerror(r));
      } else {
        image_made = true;
        answer["steps"].push_back("clone");
      }
    }
  }
  if (s.ok()) s = inject_fault("volume.create:after-create");
  if (s.ok()) {
    // One handle for the rest. A clone's chain is measured (opening its
    // ancestors) while its metadata is written.
    auto image = open_image(vol_io->get(), rbd_name, false);
    if (!image.ok()) {
      s = image.status();
    } else {
      const bool clone = source && method == "clone";
      auto depth = std::async(std::launch::async, [&]() -> Result<int> {
        return clone ? clone_depth(vol_io->get(), image->get()) : Result<int>(0);
      });
      s = finish_volume(image->get(), *type, size, *name, from_image ? source->image.id : "");
      auto measured = depth.get();
      if (s.ok() && clone) {
        s = measured.ok() ? limit_clone_depth(vol_io->get(), image->get(), *measured,
                                              driver.config().max_clone_depth, progress, answer)
                          : measured.status();
      }
    }
  }
  if (!s.ok()) {
    Status undo = image_made ? remove_image_and_snapshots(vol_io->get(), rbd_name) : Status::Ok();
    if (undo.ok()) undo = parent.undo();
    return Status::Error(
        s.err(),
        where + ": " + s.message() +
            (undo.ok() ? " (removed again)" : " (removing it failed too: " + undo.message() + ")"));
  }
  return answer;
}

}  // namespace rbdvol::plugin
