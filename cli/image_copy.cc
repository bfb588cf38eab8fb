// rbdvol image copy: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command image_copy_command() {
  Command c;
  c.words = "image copy";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "image copy is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
