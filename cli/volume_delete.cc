// rbdvol volume delete ID
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command volume_delete_command() {
  Command c;
  c.words = "volume delete";
  c.usage = "ID";
  c.summary =
      "Delete a volume that is not attached and has no snapshots (a volume already gone is fine).";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto answer = ctx.call("volume.delete", {{"id", args.positional()[0]}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      if (a.value("already_gone", false)) {
        std::printf("volume %s is already gone\n", a.at("id").get<std::string>().c_str());
      } else {
        std::printf("deleted volume %s from backend %s\n", a.at("id").get<std::string>().c_str(),
                    a.at("backend").get<std::string>().c_str());
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
