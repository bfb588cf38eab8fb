// snapshot.delete: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> snapshot_delete(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "snapshot.delete is not implemented yet");
}

}  // namespace rbdvol::plugin
