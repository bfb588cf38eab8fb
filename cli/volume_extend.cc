// rbdvol volume extend: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command volume_extend_command() {
  Command c;
  c.words = "volume extend";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "volume extend is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
