// rbdvol snapshot delete ID
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command snapshot_delete_command() {
  Command c;
  c.words = "snapshot delete";
  c.usage = "ID";
  c.summary =
      "Delete a snapshot; volumes cloned from it are flattened first (a snapshot already gone is "
      "fine).";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto answer = ctx.call("snapshot.delete", {{"id", args.positional()[0]}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      if (a.value("already_gone", false)) {
        std::printf("snapshot %s is already gone\n", shown(a.at("id")).c_str());
        return;
      }
      std::printf("deleted snapshot %s of volume %s on backend %s\n", shown(a.at("id")).c_str(),
                  shown(a.at("volume")).c_str(), shown(a.at("backend")).c_str());
      for (const auto& f : a.at("flattened")) {
        std::printf("  flattened clone %s\n", shown(f).c_str());
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
