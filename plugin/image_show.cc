// image.show: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> image_show(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "image.show is not implemented yet");
}

}  // namespace rbdvol::plugin
