// volume.extend: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> volume_extend(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "volume.extend is not implemented yet");
}

}  // namespace rbdvol::plugin
