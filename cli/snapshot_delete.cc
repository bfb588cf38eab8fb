// rbdvol snapshot delete: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command snapshot_delete_command() {
  Command c;
  c.words = "snapshot delete";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "snapshot delete is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
