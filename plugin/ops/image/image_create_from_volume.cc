// image.create_from_volume: a new image made from a volume's current data,
// in the backend its disk type names in image_store ("same" = the volume's
// own). The volume is read at a temporary snapshot, so the image is one
// consistent point in time. On the same cluster no data passes through rbdvol:
// the snapshot is cloned into the image pool and librbd flattens the clone,
// so the image keeps no dependency on the volume. Into another backend the
// copy engine copies it. The temporary snapshot is removed in both cases. The
// image is marked rbdvol.complete last; its snapshot `snap` is made by the
// first volume cloned from it.
#include "plugin/ceph/rbd_image.h"
#include "plugin/fault_injection.h"
#include "plugin/ops/image/image_copy.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/attachments.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

namespace {

// Removes snapshot `snap` of `name` (unprotecting it first); ENOENT is fine.
Status remove_snapshot(Pool& io, const std::string& name, const std::string& snap) {
  auto image = open_image(io, name, false);
  if (!image.ok()) return image.status().err() == ENOENT ? Status::Ok() : image.status();
  auto is_protected = (*image)->snap_is_protected(snap);
  int r = as_errno(is_protected.status());
  if (r == -ENOENT) return Status::Ok();
  if (r == 0 && *is_protected) {
    r = as_errno((*image)->snap_unprotect(snap));
    if (r < 0 && r != -EINVAL) {
      return Status::Error(
          r, "cannot unprotect " + image_spec(io, name) + "@" + snap + ": " + ceph_strerror(r));
    }
  }
  r = as_errno((*image)->snap_remove(snap));
  if (r < 0 && r != -ENOENT) {
    return Status::Error(
        r, "cannot remove snapshot " + image_spec(io, name) + "@" + snap + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

// A clone carries its parent's image metadata: the volume's keys are dropped
// (a volume never has rbdvol.complete, so the image is not listed before this
// ends) and the image's set. rbdvol.complete comes last.
Status finish_image(Pool& io, const std::string& rbd_name,
                    const std::vector<std::pair<std::string, std::string>>& values) {
  auto image = open_image(io, rbd_name, false);
  if (!image.ok()) return image.status();
  auto inherited = metadata_list(**image, meta::kPrefix);
  if (!inherited.ok()) return inherited.status();
  for (const auto& [key, value] : *inherited) {
    int r = as_errno((*image)->metadata_remove(key));
    if (r < 0 && r != -ENOENT) {
      return Status::Error(r, "cannot remove metadata " + key + " from " +
                                  image_spec(io, rbd_name) + ": " + ceph_strerror(r));
    }
  }
  for (const auto& [key, value] : values) {
    Status s = metadata_set(**image, key, value);
    if (!s.ok()) return s;
  }
  Status s = inject_fault("image.create_from_volume:before-complete");
  if (!s.ok()) return s;
  return metadata_set(**image, meta::kComplete, utc_now_iso8601());
}

// Clone of vol@snap into the image pool, flattened by librbd.
Status clone_and_flatten(Pool& vol_io, const std::string& vol_name, const std::string& snap,
                         Pool& img_io, const std::string& rbd_name, const Progress& progress) {
  {
    auto vol = open_image(vol_io, vol_name, false);
    if (!vol.ok()) return vol.status();
    // Clone format 1 needs a protected parent snapshot; protecting is harmless for 2.
    int r = as_errno((*vol)->snap_protect(snap));
    if (r < 0 && r != -EBUSY) {
      return Status::Error(r, "cannot protect " + image_spec(vol_io, vol_name) + "@" + snap + ": " +
                                  ceph_strerror(r));
    }
  }
  int r = as_errno(vol_io.clone_image(vol_name, snap, img_io, rbd_name, ImageOptions{}));
  if (r < 0) {
    return Status::Error(r, "cannot clone " + image_spec(vol_io, vol_name) + "@" + snap + " to " +
                                image_spec(img_io, rbd_name) + ": " + ceph_strerror(r));
  }
  Status s = inject_fault("image.create_from_volume:after-clone");
  if (!s.ok()) return s;
  auto image = open_image(img_io, rbd_name, false);
  if (!image.ok()) return image.status();
  return flatten_image(**image, image_spec(img_io, rbd_name),
                       [&](uint64_t done, uint64_t total) { progress("flatten", done, total); });
}

}  // namespace

Result<Json> image_create_from_volume(Driver& driver, const Json& request,
                                      const Progress& progress) {
  auto volume_id = required_string(request, "volume");
  if (!volume_id.ok()) return volume_id.status();
  auto name = required_name(request, "name", "image");
  if (!name.ok()) return name.status();
  auto force = optional_bool(request, "force", false);
  if (!force.ok()) return force.status();
  ASSIGN_OR_RETURN(std::string chosen_id, optional_string(request, "id"));
  if (!chosen_id.empty()) {
    ASSIGN_OR_RETURN(chosen_id, uuid_from_id(chosen_id, kImagePrefix, "image"));
  }

  auto volume = locate_volume(driver, *volume_id);
  if (!volume.ok()) return volume.status();
  Cluster* vol_cluster = volume->cluster;
  uint64_t size = 0;
  const config::DiskType* type = nullptr;
  {
    auto vol = open_image(*volume->io, volume->rbd_name, true);
    if (!vol.ok()) return vol.status();
    auto s = image_size(**vol);
    if (!s.ok()) return s.status();
    size = *s;
    auto t = volume_disk_type(driver, **vol, volume->uuid);
    if (!t.ok()) return t.status();
    type = *t;
    auto attachments = read_attachments(*volume->io, **vol);
    if (!attachments.ok()) return attachments.status();
    if (!attachments->empty() && !*force) {
      std::string domains;
      for (const auto& a : *attachments) {
        domains += (domains.empty() ? "" : ", ") + a.value("domain", std::string("?"));
      }
      return Status::Busy("volume " + volume->uuid + " on backend " + vol_cluster->id() +
                          " is attached to " + domains +
                          "; its data may change while it is read (use force to make the "
                          "image anyway)");
    }
  }
  Cluster* target = type->image_store == "same" ? vol_cluster : driver.cluster(type->image_store);
  if (!target) {
    return Status::NotFound("disk type " + type->name + " stores images in backend '" +
                            type->image_store + "', which is not an enabled backend");
  }
  auto img_io = target->open_image_pool();
  if (!img_io.ok()) return img_io.status();

  ASSIGN_OR_RETURN(const std::string uuid, new_unused_id(driver, kImagePrefix, chosen_id));
  const std::string rbd_name = kImagePrefix + uuid;
  const std::string snap = "rbdvol-image-" + uuid;
  const bool same_cluster = target == vol_cluster;
  {
    auto vol = open_image(*volume->io, volume->rbd_name, false);
    if (!vol.ok()) return vol.status();
    int r = as_errno((*vol)->snap_create(snap));
    if (r < 0) {
      return Status::Error(r, "cannot snapshot volume " + volume->uuid + " on backend " +
                                  vol_cluster->id() + ": " + ceph_strerror(r));
    }
  }
  // A copy moves every chunk through this process: it records their digests
  // and the image gets a checksum, as an upload does. A clone that librbd
  // flattens moves its data inside the cluster: hashing it would read it all
  // through here, so it gets neither.
  std::string checksum;
  Status s = same_cluster ? clone_and_flatten(*volume->io, volume->rbd_name, snap, **img_io,
                                              rbd_name, progress)
                          : copy_rbd_image(*volume->io, volume->rbd_name, snap, **img_io, rbd_name,
                                           progress, nullptr, &checksum);
  if (s.ok()) {
    std::vector<std::pair<std::string, std::string>> values = {
        {meta::kName, *name},
        {meta::kImageFormat, "raw"},
        {meta::kImageSourceSize, std::to_string(size)},
        {meta::kImageSourceVolume, volume->uuid},
        {meta::kCreatedAt, utc_now_iso8601()}};
    if (!checksum.empty()) values.emplace_back(meta::kImageChecksum, checksum);
    s = finish_image(**img_io, rbd_name, values);
  }
  if (!s.ok()) {
    Status undo = remove_image_and_snapshots(**img_io, rbd_name);
    Status undo_snap = remove_snapshot(*volume->io, volume->rbd_name, snap);
    std::string note;
    if (!undo.ok()) note += " (removing the partial image failed: " + undo.message() + ")";
    if (!undo_snap.ok())
      note += " (removing the temporary snapshot failed: " + undo_snap.message() + ")";
    return Status::Error(s.err(), "image from volume " + volume->uuid + " (backend " +
                                      vol_cluster->id() + ") into backend " + target->id() +
                                      " failed: " + s.message() +
                                      (note.empty() ? " (nothing was left behind)" : note));
  }
  Json answer = {{"id", uuid},
                 {"name", *name},
                 {"backend", target->id()},
                 {"pool", target->backend().image_pool},
                 {"image", rbd_name},
                 {"size", size},
                 {"format", "raw"},
                 {"checksum", checksum},
                 {"snapshot", kImageSnapshot},
                 {"source_volume", volume->uuid},
                 {"volume_backend", vol_cluster->id()},
                 {"method", same_cluster ? "clone-flatten" : "copy"}};
  s = remove_snapshot(*volume->io, volume->rbd_name, snap);
  if (!s.ok()) answer["warning"] = "the image is complete, but " + s.message();
  return answer;
}

}  // namespace rbdvol::plugin
