// rbdvol backend list
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command backend_list_command() {
  Command c;
  c.words = "backend list";
  c.summary =
      "List the enabled backends: state, tags, weight, pools, capacity (free, total, "
      "provisioned) and volume and image counts. Exits 6 when a backend is down.";
  c.run = [](Context& ctx, const Arguments&) -> Status {
    auto answer = ctx.call("backend.list", nlohmann::json::object());
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("%-10s %-5s %-6s %-26s %-16s %-10s %-10s %-11s %-7s %s\n", "BACKEND", "STATE",
                  "WEIGHT", "TAGS", "POOLS", "FREE", "TOTAL", "PROVISIONED", "VOLUMES", "IMAGES");
      for (const auto& b : a.at("backends")) {
        std::string tags;
        for (const auto& t : b.at("tags")) tags += (tags.empty() ? "" : ",") + t.get<std::string>();
        std::string pools =
            b.at("volume_pool").get<std::string>() + "/" + b.at("image_pool").get<std::string>();
        std::string id = b.at("id").get<std::string>() + (b.value("default", false) ? "*" : "");
        if (b.at("state") != "up") {
          std::printf("%-10s %-5s %-6g %-26s %-16s %s\n", printable(id).c_str(), "down",
                      b.at("weight").get<double>(), printable(tags).c_str(),
                      printable(pools).c_str(), printable(b.value("error", "")).c_str());
          continue;
        }
        auto count = [&](const char* key) {
          return b.contains(key) ? std::to_string(b.at(key).get<uint64_t>()) : std::string("?");
        };
        std::printf(
            "%-10s %-5s %-6g %-26s %-16s %-10s %-10s %-11s %-7s %s\n", printable(id).c_str(), "up",
            b.at("weight").get<double>(), printable(tags).c_str(), printable(pools).c_str(),
            human_bytes(b.at("free_bytes")).c_str(), human_bytes(b.at("total_bytes")).c_str(),
            b.contains("provisioned_bytes") ? human_bytes(b.at("provisioned_bytes")).c_str() : "?",
            count("volume_count").c_str(), count("image_count").c_str());
      }
      std::printf("(* = the default backend)\n");
    });
    // Every backend was printed, the ones down with why; a script learns of
    // them from the exit status (6, unreachable).
    std::string down;
    for (const auto& b : answer->at("backends")) {
      if (b.at("state") != "up") {
        down += "; " + backend_error(b.at("id"), b.value("error", "down"));
      }
    }
    if (!down.empty()) return Status::Error(EHOSTUNREACH, "down: " + down.substr(2));
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
