// rbdvol image show: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command image_show_command() {
  Command c;
  c.words = "image show";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "image show is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
