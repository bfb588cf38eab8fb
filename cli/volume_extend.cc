// rbdvol volume extend ID --size SIZE
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command volume_extend_command() {
  Command c;
  c.words = "volume extend";
  c.usage = "ID --size SIZE";
  c.summary = "Grow a volume to SIZE (volumes never shrink).";
  c.options = {{"size", true, "the new size with a unit: 10G, 512M (required)", "SIZE"}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("size")) return Status::Invalid("--size is required");
    auto answer =
        ctx.call("volume.extend", {{"id", args.positional()[0]}, {"size", args.get("size")}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("extended volume %s on backend %s from %s to %s\n",
                  a.at("id").get<std::string>().c_str(), a.at("backend").get<std::string>().c_str(),
                  human_size(a.at("old_size")).c_str(), human_size(a.at("size")).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
