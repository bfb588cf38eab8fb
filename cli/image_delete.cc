// rbdvol image delete: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command image_delete_command() {
  Command c;
  c.words = "image delete";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "image delete is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
