// rbdvol snapshot revert: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command snapshot_revert_command() {
  Command c;
  c.words = "snapshot revert";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "snapshot revert is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
