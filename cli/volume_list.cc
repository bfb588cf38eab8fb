// rbdvol volume list [--backend B] [--type T] [--status S] [--limit N] [--marker ID] ...
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command volume_list_command() {
  Command c;
  c.words = "volume list";
  c.usage =
      "[--backend B] [--type T] [--status S] [--name NAME] [--sort KEYS] [--limit N] [--marker ID]";
  c.summary =
      "List the volumes of every backend (asked in parallel), or of one, or of one type, from "
      "each backend's directory; a page at a time with --limit/--marker. Exits 6 when a backend "
      "did not answer, after listing the others.";
  c.options = {{"backend", true, "only the volumes of this backend", "B"},
               {"type", true, "only the volumes of this disk type", "T"},
               {"status", true, "only the volumes in this state: available or in-use", "S"}};
  for (auto& o : listing_options("volumes")) c.options.push_back(std::move(o));
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    nlohmann::json request = nlohmann::json::object();
    if (args.has("backend")) request["backend"] = args.get("backend");
    if (args.has("type")) request["disk_type"] = args.get("type");
    if (args.has("status")) request["status"] = args.get("status");
    RETURN_IF_ERROR(add_listing_request(args, &request));
    auto answer = ctx.call("volume.list", request);
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("%-36s %-16s %-10s %-8s %10s %s\n", "ID", "NAME", "BACKEND", "TYPE", "SIZE",
                  "ATTACHED TO");
      for (const auto& v : a.at("volumes")) {
        std::string domains;
        for (const auto& at : v.at("attachments")) {
          domains += (domains.empty() ? "" : ",") + at.value("domain", "?");
        }
        std::printf("%-36s %-16s %-10s %-8s %10s %s\n", shown(v.at("id")).c_str(),
                    shown(v.at("name")).c_str(), shown(v.at("backend")).c_str(),
                    shown(v.at("disk_type")).c_str(), human_bytes(v.at("size")).c_str(),
                    printable(domains).c_str());
      }
      for (const auto& u : a.at("unreachable")) {
        std::printf("not listed: %s\n",
                    printable(backend_error(u.at("backend"), u.at("error"))).c_str());
      }
    });
    if (!ctx.json) print_next_page(*answer, "rbdvol volume list");
    // Printed what the others hold; a script still learns the list is short.
    return unreachable_backends(answer->at("unreachable"), "the list");
  };
  return c;
}

}  // namespace rbdvol::cli
