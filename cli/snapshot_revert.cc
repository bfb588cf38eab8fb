// rbdvol snapshot revert ID
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command snapshot_revert_command() {
  Command c;
  c.words = "snapshot revert";
  c.usage = "ID";
  c.summary = "Roll a detached volume back to one of its snapshots.";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto answer = ctx.call("snapshot.revert", {{"id", args.positional()[0]}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("reverted volume %s on backend %s to snapshot %s (%s)\n",
                  shown(a.at("volume")).c_str(), shown(a.at("backend")).c_str(),
                  shown(a.at("snapshot")).c_str(), human_bytes(a.at("size")).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
