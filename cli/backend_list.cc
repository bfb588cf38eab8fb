// rbdvol backend list
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command backend_list_command() {
  Command c;
  c.words = "backend list";
  c.usage = "";
  c.summary = "List the enabled backends: tags, weight, pools, state and capacity.";
  c.run = [](Context& ctx, const Arguments&) -> Status {
    auto answer = ctx.call("backend.list", nlohmann::json::object());
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("%-12s %-5s %-7s %-28s %-22s %s\n", "BACKEND", "STATE", "WEIGHT", "TAGS",
                  "POOLS (volume/image)", "FREE / TOTAL");
      for (const auto& b : a.at("backends")) {
        std::string tags;
        for (const auto& t : b.at("tags")) tags += (tags.empty() ? "" : ",") + t.get<std::string>();
        std::string pools =
            b.at("volume_pool").get<std::string>() + "/" + b.at("image_pool").get<std::string>();
        std::string capacity = b.at("state") == "up" ? human_size(b.at("free_bytes")) + " / " +
                                                           human_size(b.at("total_bytes"))
                                                     : b.value("error", "");
        std::printf("%-12s %-5s %-7g %-28s %-22s %s%s\n", b.at("id").get<std::string>().c_str(),
                    b.at("state").get<std::string>().c_str(), b.at("weight").get<double>(),
                    tags.c_str(), pools.c_str(), capacity.c_str(),
                    b.value("default", false) ? "  (default)" : "");
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
