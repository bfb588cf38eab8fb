// volume.extend: grows a volume. Never shrinks: a smaller or equal size is
// refused, since shrinking would cut off data at the end of the disk.
#include "plugin/records/catalog.h"
#include "plugin/ops/operations.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/request.h"

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
  auto image = open_image(volume->io.get(), volume->rbd_name, false);
  if (!image.ok()) return image.status().Prefixed(where);
  auto old_size = image_size(image->get());
  if (!old_size.ok()) return old_size.status().Prefixed(where);
  if (new_size <= *old_size) {
    return Status::Invalid(where + ": new size " + std::to_string(new_size) +
                           " bytes is not larger than its size " + std::to_string(*old_size) +
                           " bytes (volumes only grow)");
  }
  // allow_shrink = false: librbd itself refuses to shrink should the size
  // have changed since it was read.
  int r = rbd_resize2(image->get(), new_size, false, nullptr, nullptr);
  if (r < 0) {
    return Status::Error(r, "cannot grow " + where + " from " + std::to_string(*old_size) + " to " +
                                std::to_string(new_size) + " bytes: " + ceph_strerror(r));
  }
  return Json{{"id", volume->uuid},
              {"backend", volume->cluster->id()},
              {"old_size", *old_size},
              {"size", new_size}};
}

}  // namespace rbdvol::plugin
