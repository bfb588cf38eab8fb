// rbdvol image show ID
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command image_show_command() {
  Command c;
  c.words = "image show";
  c.usage = "ID";
  c.summary = "Show an image: size, format, checksum, and every backend that holds a copy.";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto answer = ctx.call("image.show", {{"id", args.positional()[0]}});
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      auto text = [&](const char* key) { return a.value(key, std::string("-")); };
      std::printf("id:        %s\n", printable(text("id")).c_str());
      std::printf("name:      %s\n", printable(text("name")).c_str());
      std::printf("size:      %s (%llu bytes)\n", human_bytes(a.at("size")).c_str(),
                  static_cast<unsigned long long>(a.at("size").get<uint64_t>()));
      std::printf("format:    %s (stored as raw)\n", printable(text("format")).c_str());
      std::printf("checksum:  %s\n", a.value("checksum", std::string()).empty()
                                         ? "(not recorded)"
                                         : printable(text("checksum")).c_str());
      if (a.contains("created_at"))
        std::printf("created:   %s\n", printable(text("created_at")).c_str());
      if (a.contains("source_volume")) {
        std::printf("from:      volume %s\n", printable(text("source_volume")).c_str());
      }
      std::printf("snapshot:  %s (volumes clone it; made by the first volume from each copy)\n",
                  printable(text("snapshot")).c_str());
      std::printf("locations:\n");
      for (const auto& l : a.at("locations")) {
        std::printf("  %-12s %s/%s\n", shown(l.at("backend")).c_str(), shown(l.at("pool")).c_str(),
                    shown(l.at("image")).c_str());
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
