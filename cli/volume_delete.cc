// rbdvol volume delete ID [--cascade]
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command volume_delete_command() {
  Command c;
  c.words = "volume delete";
  c.usage = "ID [--cascade]";
  c.summary =
      "Delete a volume that is not attached (a volume already gone is fine); clones made from it "
      "are flattened first.";
  c.options = {
      {"cascade", false, "delete its snapshots too (their clones are flattened first)", ""}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto answer =
        ctx.call("volume.delete", {{"id", args.positional()[0]}, {"cascade", args.has("cascade")}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      if (a.value("already_gone", false)) {
        std::printf("volume %s is already gone\n", shown(a.at("id")).c_str());
      } else {
        std::printf("deleted volume %s from backend %s\n", shown(a.at("id")).c_str(),
                    shown(a.at("backend")).c_str());
        for (const auto& s : a.value("snapshots_removed", nlohmann::json::array())) {
          std::printf("  removed snapshot %s\n", shown(s).c_str());
        }
        for (const auto& f : a.value("flattened", nlohmann::json::array())) {
          std::printf("  flattened clone %s\n", shown(f).c_str());
        }
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
