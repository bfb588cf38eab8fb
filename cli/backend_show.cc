// rbdvol backend show: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command backend_show_command() {
  Command c;
  c.words = "backend show";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "backend show is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
