// rbdvol volume retype ID --type TYPE
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

namespace {

std::string joined(const nlohmann::json& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n.get<std::string>();
  return out.empty() ? "(none)" : out;
}

}  // namespace

Command volume_retype_command() {
  Command c;
  c.words = "volume retype";
  c.usage = "ID --type TYPE";
  c.summary =
      "Give a detached volume another disk type on the same backend (turns the multiattach RBD "
      "features off, or back on).";
  c.options = {{"type", true, "the new disk type (required)", "TYPE"}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("type")) return usage_error("--type is required");
    auto answer =
        ctx.call("volume.retype", {{"id", args.positional()[0]}, {"disk_type", args.get("type")}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("volume %s on backend %s: disk type %s -> %s\n", shown(a.at("id")).c_str(),
                  shown(a.at("backend")).c_str(), shown(a.at("old_disk_type")).c_str(),
                  shown(a.at("disk_type")).c_str());
      if (!a.at("features_enabled").empty())
        std::printf("  turned on: %s\n", printable(joined(a.at("features_enabled"))).c_str());
      if (!a.at("features_disabled").empty())
        std::printf("  turned off: %s\n", printable(joined(a.at("features_disabled"))).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
