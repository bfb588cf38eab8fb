// rbdvol image list
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command image_list_command() {
  Command c;
  c.words = "image list";
  c.summary = "List every image with the backends that hold a copy of it.";
  c.run = [](Context& ctx, const Arguments&) -> Status {
    auto answer = ctx.call("image.list", nlohmann::json::object());
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("%-36s %-20s %-10s %s\n", "ID", "NAME", "SIZE", "BACKENDS");
      for (const auto& i : a.at("images")) {
        std::string where;
        for (const auto& l : i.at("locations")) {
          where += (where.empty() ? "" : ",") + l.at("backend").get<std::string>();
        }
        std::printf("%-36s %-20s %-10s %s\n", i.at("id").get<std::string>().c_str(),
                    i.at("name").get<std::string>().c_str(), human_size(i.at("size")).c_str(),
                    where.c_str());
      }
      for (const auto& u : a.at("unreachable")) {
        std::fprintf(stderr, "warning: backend %s not listed: %s\n",
                     u.at("backend").get<std::string>().c_str(),
                     u.at("error").get<std::string>().c_str());
      }
      for (const auto& u : a.at("unreadable")) {
        std::fprintf(stderr, "warning: image %s on backend %s not listed: %s\n",
                     u.at("id").get<std::string>().c_str(),
                     u.at("backend").get<std::string>().c_str(),
                     u.at("error").get<std::string>().c_str());
      }
    });
    if (!answer->at("unreachable").empty()) {
      return Status::Error(EHOSTUNREACH, "the listing is incomplete: a backend is unreachable");
    }
    if (!answer->at("unreadable").empty()) {
      return Status::Error(EIO, "the listing is incomplete: an image could not be read");
    }
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
