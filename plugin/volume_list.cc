// volume.list: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> volume_list(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "volume.list is not implemented yet");
}

}  // namespace rbdvol::plugin
