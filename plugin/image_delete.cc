// image.delete: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> image_delete(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "image.delete is not implemented yet");
}

}  // namespace rbdvol::plugin
