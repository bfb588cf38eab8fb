// rbdvol snapshot list VOLUME
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command snapshot_list_command() {
  Command c;
  c.words = "snapshot list";
  c.usage = "VOLUME";
  c.summary = "List a volume's snapshots.";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto answer = ctx.call("snapshot.list", {{"volume", args.positional()[0]}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("%-36s %-16s %10s %-20s %s\n", "ID", "NAME", "SIZE", "CREATED", "CLONES");
      for (const auto& s : a.at("snapshots")) {
        std::printf("%-36s %-16s %10s %-20s %zu\n", shown(s.at("id")).c_str(),
                    shown(s.at("name")).c_str(), human_bytes(s.at("size")).c_str(),
                    shown(s.at("created_at")).c_str(), s.at("clones").size());
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
