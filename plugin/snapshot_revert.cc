// snapshot.revert: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> snapshot_revert(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "snapshot.revert is not implemented yet");
}

}  // namespace rbdvol::plugin
