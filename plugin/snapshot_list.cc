// snapshot.list: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> snapshot_list(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "snapshot.list is not implemented yet");
}

}  // namespace rbdvol::plugin
