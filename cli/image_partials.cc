// rbdvol image partials [--backend B]
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command image_partials_command() {
  Command c;
  c.words = "image partials";
  c.usage = "[--backend ID]";
  c.summary =
      "List partial images: uploads, copies and streamed transfers being written, or left by runs "
      "that died.";
  c.options = {{"backend", true, "only this backend", "ID"}};
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    nlohmann::json request = nlohmann::json::object();
    if (args.has("backend")) request["backend"] = args.get("backend");
    auto answer = ctx.call("image.partials", request);
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("%-36s %-10s %-7s %-13s %-8s %s\n", "ID", "BACKEND", "KIND", "CHUNKS", "STATE",
                  "SOURCE");
      bool dead = false;
      for (const auto& p : a.at("partials")) {
        const bool running = p.at("running").get<bool>();
        dead = dead || !running;
        const std::string chunks = p.at("chunks").get<uint64_t>() == 0
                                       ? "-"
                                       : std::to_string(p.at("chunks_confirmed").get<uint64_t>()) +
                                             "/" + std::to_string(p.at("chunks").get<uint64_t>());
        const std::string kind = p.at("kind").get<std::string>();
        const std::string source = p.at("source").get<std::string>();
        std::printf("%-36s %-10s %-7s %-13s %-8s %s\n", shown(p.at("id")).c_str(),
                    shown(p.at("backend")).c_str(), kind.empty() ? "-" : kind.c_str(),
                    printable(chunks).c_str(), running ? "running" : "dead",
                    source.empty() ? "-" : printable(source).c_str());
        std::printf("  %s\n", shown(p.at("how")).c_str());
      }
      if (dead) {
        std::printf(
            "A dead run's copy continues with 'rbdvol image copy ID --to BACKEND --resume', its "
            "upload with 'rbdvol image upload FILE --name NAME --backend BACKEND --resume', a "
            "transfer (kind transfer) with its host's writes and finish (image.write, "
            "image.transfer_finish); "
            "'rbdvol image delete ID [--backend BACKEND]' removes it.\n");
      }
      for (const auto& u : a.at("unreachable")) {
        std::fprintf(stderr, "warning: backend %s not searched: %s\n",
                     shown(u.at("backend")).c_str(), shown(u.at("error")).c_str());
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
