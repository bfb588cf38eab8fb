// backend.show: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> backend_show(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "backend.show is not implemented yet");
}

}  // namespace rbdvol::plugin
