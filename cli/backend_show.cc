// rbdvol backend show ID
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command backend_show_command() {
  Command c;
  c.words = "backend show";
  c.usage = "ID";
  c.summary =
      "Show one backend: state (with the error when down), tags, weight, pools, capacity, counts.";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto answer = ctx.call("backend.show", {{"id", args.positional()[0]}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& b) {
      auto line = [](const char* k, const std::string& v) {
        std::printf("%-13s %s\n", k, printable(v).c_str());
      };
      std::string tags;
      for (const auto& t : b.at("tags")) tags += (tags.empty() ? "" : ", ") + t.get<std::string>();
      line("id", b.at("id").get<std::string>() + (b.value("default", false) ? " (default)" : ""));
      line("state", b.at("state"));
      if (b.contains("error")) line("error", b.at("error"));
      line("tags", tags);
      char weight[32];
      std::snprintf(weight, sizeof(weight), "%g", b.at("weight").get<double>());
      line("weight", weight);
      line("pools", "volumes in " + b.at("volume_pool").get<std::string>() + ", images in " +
                        b.at("image_pool").get<std::string>());
      line("ceph conf", b.at("ceph_conf"));
      line("user", b.at("rbd_user"));
      line("secret", b.at("libvirt_secret_uuid"));
      if (b.at("state") == "up") {
        line("capacity", human_bytes(b.at("free_bytes")) + " free of " +
                             human_bytes(b.at("total_bytes")) + " (" +
                             human_bytes(b.at("used_bytes")) + " used)");
      }
      if (b.contains("provisioned_bytes")) {
        line("provisioned", human_bytes(b.at("provisioned_bytes")));
        line("volumes", std::to_string(b.at("volume_count").get<uint64_t>()));
        line("images", std::to_string(b.at("image_count").get<uint64_t>()));
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
