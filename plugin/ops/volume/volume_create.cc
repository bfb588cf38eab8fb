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
Status finish_volume(RbdImage& image, const config::DiskType& type, uint64_t size,
                     const std::string& name, const std::string& source_image) {
  auto current = image_size(image);
  if (!current.ok()) return current.status();
  if (size > *current) {
    int r = as_errno(image.resize(size, false));
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
  auto done = fan_out(changes, [&image](const auto& change) -> Status {
    if (change.second) return metadata_set(image, change.first, *change.second);
    int r = as_errno(image.metadata_remove(change.first));
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
    auto opened = open_image_at(*source.volume->io, source.volume->rbd_name, source.rbd_snap);
    if (!opened.ok()) {
      return opened.status().Prefixed("snapshot " + found->uuid + " on backend " +
                                      source.volume->cluster->id());
    }
    ImagePtr at_snap = std::move(opened).value();
    auto size = image_size(*at_snap);
    if (!size.ok()) return size.status().Prefixed(source.label);
    source.size = *size;
    return source;
  }
  auto found = locate_volume(driver, volume_ref);
  if (!found.ok()) return found.status();
  source.kind = Source::Kind::kVolume;
  source.label = "volume " + found->uuid;
  source.volume = std::move(found).value();
  auto image = open_image(*source.volume->io, source.volume->rbd_name, true);
  if (!image.ok()) return image.status().Prefixed("backend " + source.volume->cluster->id());
  auto size = image_size(**image);
  if (!size.ok()) return size.status().Prefixed(source.label);
  source.size = *size;
  return source;
}

// The snapshot of a source volume or snapshot that the new volume clones,
// made (and protected) for it; undone when the create fails.
struct CloneParent {
  Pool* io = nullptr;
  std::string image;
  std::string snap;
  bool created = false;     // a hidden rbdvol-clone-* snapshot made for this volume
  bool protected_ = false;  // protected by this create

  // Leaves the source as it was before the create, as far as nothing else
  // depends on it since.
  Status undo() const {
    if (created) return remove_snapshot(*io, image, snap);
    if (!protected_) return Status::Ok();
    auto children = snapshot_children(*io, image, snap);
    if (!children.ok() || !children->empty()) return children.status();
    auto opened = open_image(*io, image, false);
    if (!opened.ok()) return opened.status();
    int r = as_errno((*opened)->snap_unprotect(snap));
    if (r < 0) return Status::Error(r, "cannot unprotect " + image_spec(*io, image) + "@" + snap);
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
  const std::string spec = image_spec(*parent.io, parent.image) + "@" + parent.snap;
  auto image = open_image(*parent.io, parent.image, false);
  if (!image.ok()) return image.status();
  if (source.kind == Source::Kind::kVolume) {
    int r = as_errno((*image)->snap_create(parent.snap));
    if (r < 0) return Status::Error(r, "cannot create snapshot " + spec + ": " + ceph_strerror(r));
    parent.created = true;
  }
  auto is_protected = (*image)->snap_is_protected(parent.snap);
  int r = as_errno(is_protected.status());
  if (r < 0) return Status::Error(r, "cannot read snapshot " + spec + ": " + ceph_strerror(r));
  if (!*is_protected) {
    r = as_errno((*image)->snap_protect(parent.snap));
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
Status copy_volume_data(const Source& source, const std::string& new_uuid, Pool& vol_io,
                        const std::string& rbd_name, const Progress& progress) {
  Pool& src_io = *source.volume->io;
  const std::string& src_name = source.volume->rbd_name;
  if (source.kind == Source::Kind::kSnapshot) {
    return copy_rbd_image(src_io, src_name, source.rbd_snap, vol_io, rbd_name, progress);
  }
  const std::string snap = kCloneSnapshotPrefix + new_uuid;
  {
    auto image = open_image(src_io, src_name, false);
    if (!image.ok()) return image.status();
    int r = as_errno((*image)->snap_create(snap));
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
Status limit_clone_depth(Pool& io, RbdImage& image, int depth, int max_depth,
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

// How a new volume gets its bytes (placement decides): nothing (blank), a
// clone of its source in the same cluster, or a copy from another cluster.
enum class Method { kBlank, kClone, kCopy };

const char* method_name(Method m) {
  switch (m) {
    case Method::kBlank:
      return "blank";
    case Method::kClone:
      return "clone";
    case Method::kCopy:
      return "copy";
  }
  return "?";
}

// One volume being made: where it goes, and what was made so far (for the
// undo).
struct NewVolume {
  Driver& driver;
  Cluster& cluster;
  Pool& io;  // the volume pool
  std::string uuid;
  std::string rbd_name;
  uint64_t size = 0;
  const Progress& progress;
  Json& answer;
  bool image_made = false;  // the RBD image exists: removed by the undo
  CloneParent parent;       // a source snapshot taken or protected for it
};

// Leaves the clusters as they were before the create: removes the RBD image
// made and gives back the source's snapshot. A scope guard: run by undo()
// on a failure that reports it, or by the destructor on any other way out
// before dismiss().
class CreateUndo {
 public:
  explicit CreateUndo(NewVolume& v) : v_(v) {}
  ~CreateUndo() {
    if (armed_) (void)undo();
  }
  CreateUndo(const CreateUndo&) = delete;
  CreateUndo& operator=(const CreateUndo&) = delete;

  Status undo() {
    armed_ = false;
    Status s = v_.image_made ? remove_image_and_snapshots(v_.io, v_.rbd_name) : Status::Ok();
    if (s.ok()) s = v_.parent.undo();
    return s;
  }
  void dismiss() { armed_ = false; }

 private:
  NewVolume& v_;
  bool armed_ = true;
};

Status create_blank_volume(NewVolume& v) {
  v.answer["steps"].push_back("create");
  int r = as_errno(v.io.create_image(v.rbd_name, v.size, ImageOptions{}));
  if (r < 0) {
    return Status::Error(r, "cannot create " + image_spec(v.io, v.rbd_name) + " on backend " +
                                v.cluster.id() + ": " + ceph_strerror(r));
  }
  v.image_made = true;
  return Status::Ok();
}

// Clones parent_image@parent_snap of `parent_io` (same cluster) as the volume.
Status clone_into_volume(NewVolume& v, Pool& parent_io, const std::string& parent_image,
                         const std::string& parent_snap) {
  int r =
      as_errno(parent_io.clone_image(parent_image, parent_snap, v.io, v.rbd_name, ImageOptions{}));
  if (r < 0) {
    return Status::Error(r, "cannot clone " + image_spec(parent_io, parent_image) + "@" +
                                parent_snap + " to " + image_spec(v.io, v.rbd_name) + ": " +
                                ceph_strerror(r));
  }
  v.image_made = true;
  v.answer["steps"].push_back("clone");
  return Status::Ok();
}

// Clones the image's `snap` in the chosen backend's image pool, making and
// protecting it first when this is the copy's first volume. The snapshot is
// not removed again if the clone fails: other volumes may be cloning it at
// the same moment, and it is harmless.
Status clone_image_copy(NewVolume& v, const Source& source) {
  ASSIGN_OR_RETURN(PoolPtr img_io, v.cluster.open_image_pool());
  const std::string parent_image = kImagePrefix + source.image.id;
  auto made = ensure_image_snapshot(
      *img_io, parent_image, [&] { return release_dead_copier_lock(*img_io, parent_image); });
  if (!made.ok()) {
    return made.status().Prefixed("image " + source.image.id + " on backend " + v.cluster.id());
  }
  if (*made) v.answer["steps"].push_back("snapshot");
  return clone_into_volume(v, *img_io, parent_image, kImageSnapshot);
}

// No matching backend holds the image: copy it once into the chosen
// backend's image pool (or wait for the process copying it there now); this
// volume and later ones clone that copy.
Status copy_image_then_clone(NewVolume& v, const Source& source) {
  bool waited = false, copied_here = false;
  auto copied =
      copy_or_await_image(v.driver, source.image, v.cluster, v.progress, &waited, &copied_here);
  if (!copied.ok()) return copied.status().Prefixed("volume.create");
  if (waited) v.answer["steps"].push_back("wait");
  if (copied_here) v.answer["steps"].push_back("copy");
  return clone_image_copy(v, source);
}

// Clones a source volume (at a hidden snapshot taken for this volume) or a
// source snapshot (protected for it).
Status clone_volume_source(NewVolume& v, const Source& source) {
  RETURN_IF_ERROR(prepare_clone_parent(source, v.uuid, v.parent));
  if (v.parent.created) v.answer["steps"].push_back("snapshot");
  v.answer["clone_of"] = image_spec(*v.parent.io, v.parent.image) + "@" + v.parent.snap;
  return clone_into_volume(v, *v.parent.io, v.parent.image, v.parent.snap);
}

Status copy_volume_source(NewVolume& v, const Source& source) {
  Status s = copy_volume_data(source, v.uuid, v.io, v.rbd_name, v.progress);
  v.image_made = s.ok();
  if (s.ok()) v.answer["steps"].push_back("copy");
  return s;
}

// Makes the volume's RBD image by `method`.
Status make_volume_image(NewVolume& v, Method method, const std::optional<Source>& source) {
  const bool from_image = source && source->kind == Source::Kind::kImage;
  switch (method) {
    case Method::kBlank:
      return create_blank_volume(v);
    case Method::kClone:
      return from_image ? clone_image_copy(v, *source) : clone_volume_source(v, *source);
    case Method::kCopy:
      return from_image ? copy_image_then_clone(v, *source) : copy_volume_source(v, *source);
  }
  return Status::Invalid("unknown volume.create method");
}

// Everything after the image exists: its size, metadata and features with
// one handle; a clone's chain is measured (opening its ancestors) while its
// metadata is written, and flattened when too deep.
Status complete_volume(NewVolume& v, Method method, const config::DiskType& type,
                       const std::string& name, const std::string& source_image) {
  RETURN_IF_ERROR(inject_fault("volume.create:after-create"));
  ASSIGN_OR_RETURN(ImagePtr image, open_image(v.io, v.rbd_name, false));
  const bool clone = method == Method::kClone;
  auto depth = std::async(std::launch::async, [&]() -> Result<int> {
    return clone ? clone_depth(v.io, *image) : Result<int>(0);
  });
  Status s = finish_volume(*image, type, v.size, name, source_image);
  auto measured = depth.get();
  RETURN_IF_ERROR(s);
  if (!clone) return Status::Ok();
  if (!measured.ok()) return measured.status();
  return limit_clone_depth(v.io, *image, *measured, v.driver.config().max_clone_depth, v.progress,
                           v.answer);
}

// The backends whose tags match `type`; each other one is added to
// `verdicts` with why it was not chosen. EINVAL when none matches.
Result<std::vector<Cluster*>> backends_for_type(Driver& driver, const config::DiskType& type,
                                                Json& verdicts) {
  std::vector<Cluster*> matching;
  for (auto& c : driver.clusters()) {
    if (config::backend_matches(c->backend(), type.tags)) {
      matching.push_back(c.get());
    } else {
      verdicts.push_back({{"backend", c->id()},
                          {"chosen", false},
                          {"reason", "tags " + name_list(c->backend().tags) + " lack one of " +
                                         name_list(type.tags)}});
    }
  }
  if (matching.empty()) {
    std::string detail;
    for (auto& c : driver.clusters()) {
      detail += "; " + c->id() + " has " + name_list(c->backend().tags);
    }
    return Status::Invalid("disk type '" + type.name + "' needs tags " + name_list(type.tags) +
                           " and no backend carries them all" + detail);
  }
  return matching;
}

// Picks among the matching backends (placement.h): each one's free space,
// weight, and whether it holds the source.
Result<Placement> place_volume(const std::vector<Cluster*>& matching,
                               const std::optional<Source>& source) {
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
  return pick_backend(candidates, source.has_value(), source ? source->label : std::string());
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
  Json verdicts = Json::array();
  ASSIGN_OR_RETURN(auto matching, backends_for_type(driver, *type, verdicts));

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

  auto placement = place_volume(matching, source);
  if (!placement.ok()) return placement.status().Prefixed("disk type " + type->name);
  for (const auto& v : placement->verdicts) {
    verdicts.push_back({{"backend", v.backend}, {"chosen", v.chosen}, {"reason", v.reason}});
  }
  const Method method = !source                   ? Method::kBlank
                        : placement->holds_source ? Method::kClone
                                                  : Method::kCopy;

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
      {"method", method_name(method)},
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
  NewVolume v{driver, *cluster, **vol_io, uuid, rbd_name, size, progress, answer, false, {}};
  CreateUndo undo(v);
  Status s = make_volume_image(v, method, source);
  if (s.ok()) s = complete_volume(v, method, *type, *name, from_image ? source->image.id : "");
  if (!s.ok()) {
    Status undone = undo.undo();
    return Status::Error(s.err(),
                         "volume " + uuid + " on backend " + cluster->id() + ": " + s.message() +
                             (undone.ok() ? " (removed again)"
                                          : " (removing it failed too: " + undone.message() + ")"));
  }
  undo.dismiss();
  return answer;
}

}  // namespace rbdvol::plugin
