// rbdvol volume show ID
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command volume_show_command() {
  Command c;
  c.words = "volume show";
  c.usage = "ID";
  c.summary = "Show a volume: backend, pool, image, size, disk type, features, attachments.";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto answer = ctx.call("volume.show", {{"id", args.positional()[0]}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      auto line = [](const char* k, const std::string& v) {
        std::printf("%-13s %s\n", k, printable(v).c_str());
      };
      line("id", a.at("id"));
      line("name", a.at("name"));
      line("backend", a.at("backend"));
      line("image", a.at("pool").get<std::string>() + "/" + a.at("image").get<std::string>());
      line("size", human_bytes(a.at("size")) + " (" + std::to_string(a.at("size").get<uint64_t>()) +
                       " bytes)");
      line("disk type", a.at("disk_type").get<std::string>() +
                            (a.at("multiattach").get<bool>() ? " (multiattach)" : ""));
      line("cache", a.at("cache"));
      if (!a.at("parent").is_null()) {
        const auto& p = a.at("parent");
        line("parent", p.at("pool").get<std::string>() + "/" + p.at("image").get<std::string>() +
                           "@" + p.at("snapshot").get<std::string>());
      }
      std::string features;
      for (const auto& f : a.at("features"))
        features += (features.empty() ? "" : ", ") + f.get<std::string>();
      line("features", features);
      line("created", a.at("created_at"));
      if (a.at("attachments").empty()) line("attachments", "(none)");
      for (const auto& at : a.at("attachments")) {
        line("attached to", at.value("domain", "?") + " as " + at.value("target_dev", "?") + " (" +
                                at.value("state", "?") + " since " + at.value("since", "?") + ")");
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
