// image.copy: not written yet.
#include "plugin/image_copy.h"
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<ImageLocation> copy_image_to_backend(Driver&, const ImageRecord& image, Cluster& target,
                                            const Progress&) {
  return Status::Error(ENOSYS, "copying image " + image.id + " to backend " + target.id() +
                                   " is not implemented yet");
}

Result<Json> image_copy(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "image.copy is not implemented yet");
}

}  // namespace rbdvol::plugin
