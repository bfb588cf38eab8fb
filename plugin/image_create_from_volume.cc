// image.create_from_volume: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> image_create_from_volume(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "image.create_from_volume is not implemented yet");
}

}  // namespace rbdvol::plugin
