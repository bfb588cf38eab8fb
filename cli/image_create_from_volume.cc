// rbdvol image create-from-volume: not written yet.
#include "cli/command.h"

namespace rbdvol::cli {

Command image_create_from_volume_command() {
  Command c;
  c.words = "image create-from-volume";
  c.summary = "(not implemented yet)";
  c.max_positional = SIZE_MAX;
  c.run = [](Context&, const Arguments&) -> Status {
    return Status::Error(ENOSYS, "image create-from-volume is not implemented yet");
  };
  return c;
}

}  // namespace rbdvol::cli
