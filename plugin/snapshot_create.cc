// snapshot.create: not written yet.
#include "plugin/operations.h"

namespace rbdvol::plugin {

Result<Json> snapshot_create(Driver&, const Json&, const Progress&) {
  return Status::Error(ENOSYS, "snapshot.create is not implemented yet");
}

}  // namespace rbdvol::plugin
