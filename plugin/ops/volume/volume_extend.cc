// volume.extend: grows a volume. Never shrinks: a smaller or equal size is
// refused (EINVAL, naming the size the volume has now), since shrinking would
// cut off data at the end of the disk. The answer's `size` is read back from
// the image after the resize.
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"

namespace rbdvol::plugin {

Result<Json> volume_extend(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto size = optional_volume_size(request, "size");
  if (!size.ok()) return size.status();
  if (!size->has_value()) return Status::Invalid("request field 'size' is required");
  const uint64_t new_size = **size;
  auto volume = locate_volume(driver, *id);
  if (!volume.ok()) return volume.status();
  const std::string where = "volume " + volume->uuid + " on backend " + volume->cluster->id();
  auto image = open_image(*volume->io, volume->rbd_name, false);
  if (!image.ok()) return image.status().Prefixed(where);
  auto old_size = image_size(**image);
  if (!old_size.ok()) return old_size.status().Prefixed(where);
  auto refuse = [&](uint64_t current) {
    return Status::Invalid(where + " is already " + std::to_string(current) + " bytes; " +
                           std::to_string(new_size) +
                           " bytes would not grow it (volumes only grow)");
  };
  if (new_size <= *old_size) return refuse(*old_size);
  // allow_shrink = false: librbd itself refuses to shrink should another
  // extend have grown the image since its size was read; say so with the size
  // it has now, not the stale one.
  int r = as_errno((*image)->resize(new_size, false));
  if (r < 0) {
    auto now = image_size(**image);
    if (r == -EINVAL && now.ok() && *now >= new_size) return refuse(*now);
    return Status::Error(r, "cannot grow " + where + " to " + std::to_string(new_size) +
                                " bytes: " + ceph_strerror(r));
  }
  // The size it has now, read back: another extend may have grown it further
  // meanwhile, and whoever announces the size to guests must never tell them
  // less than the image holds.
  auto grown = image_size(**image);
  if (!grown.ok()) {
    return grown.status().Prefixed(where + ": grown, but its size cannot be read back");
  }
  return Json{{"id", volume->uuid},
              {"backend", volume->cluster->id()},
              {"old_size", *old_size},
              {"requested_size", new_size},
              {"size", *grown}};
}

}  // namespace rbdvol::plugin
