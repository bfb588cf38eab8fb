// rbdvol image list [--backend B] [--name NAME] [--sort KEYS] [--limit N] [--marker ID]
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command image_list_command() {
  Command c;
  c.words = "image list";
  c.usage = "[--backend B] [--name NAME] [--sort KEYS] [--limit N] [--marker ID]";
  c.summary =
      "List every image with the backends that hold a copy of it, from each backend's "
      "directory; a page at a time with --limit/--marker.";
  c.options = {{"backend", true, "only the copies this backend holds", "B"}};
  for (auto& o : listing_options("images")) c.options.push_back(std::move(o));
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    nlohmann::json request = nlohmann::json::object();
    if (args.has("backend")) request["backend"] = args.get("backend");
    RETURN_IF_ERROR(add_listing_request(args, &request));
    auto answer = ctx.call("image.list", request);
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("%-36s %-20s %-10s %s\n", "ID", "NAME", "SIZE", "BACKENDS");
      for (const auto& i : a.at("images")) {
        std::string where;
        for (const auto& l : i.at("locations")) {
          where += (where.empty() ? "" : ",") + l.at("backend").get<std::string>();
        }
        std::printf("%-36s %-20s %-10s %s\n", shown(i.at("id")).c_str(),
                    shown(i.at("name")).c_str(), human_bytes(i.at("size")).c_str(),
                    printable(where).c_str());
      }
      for (const auto& u : a.at("unreachable")) {
        std::fprintf(stderr, "warning: not listed: %s\n",
                     printable(backend_error(u.at("backend"), u.at("error"))).c_str());
      }
    });
    if (!ctx.json) print_next_page(*answer, "rbdvol image list");
    if (!answer->at("unreachable").empty()) {
      return Status::Error(EHOSTUNREACH, "the listing is incomplete: a backend is unreachable");
    }
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
