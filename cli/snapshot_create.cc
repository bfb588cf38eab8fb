// rbdvol snapshot create VOLUME [--name NAME]
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command snapshot_create_command() {
  Command c;
  c.words = "snapshot create";
  c.usage = "VOLUME [--name NAME]";
  c.summary = "Take a snapshot of a volume.";
  c.options = {{"name", true, "a name for the snapshot", "NAME"}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    nlohmann::json request = {{"volume", args.positional()[0]}};
    if (args.has("name")) request["name"] = args.get("name");
    auto answer = ctx.call("snapshot.create", request);
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("created snapshot %s of volume %s on backend %s as %s/%s@%s\n",
                  shown(a.at("id")).c_str(), shown(a.at("volume")).c_str(),
                  shown(a.at("backend")).c_str(), shown(a.at("pool")).c_str(),
                  shown(a.at("image")).c_str(), shown(a.at("snapshot")).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
