// rbdvol snapshot list: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command snapshot_list_command() {
  Command c;
  c.words = "snapshot list";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "snapshot list is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
