// rbdvol snapshot create: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command snapshot_create_command() {
  Command c;
  c.words = "snapshot create";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "snapshot create is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
