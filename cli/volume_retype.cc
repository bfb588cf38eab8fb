// rbdvol volume retype: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command volume_retype_command() {
  Command c;
  c.words = "volume retype";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "volume retype is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
