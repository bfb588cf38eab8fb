// volume.retype: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> volume_retype(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "volume.retype is not implemented yet");
}

}  // namespace rbdvol::plugin
