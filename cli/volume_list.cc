// rbdvol volume list: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command volume_list_command() {
  Command c;
  c.words = "volume list";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "volume list is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
