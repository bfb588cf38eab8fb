// rbdvol image delete ID [--force] [--backend B]
#include <cstdio>

#include "cli/command.h"
#include "cli/progress_display.h"

namespace rbdvol::cli {

Command image_delete_command() {
  Command c;
  c.words = "image delete";
  c.usage = "ID [--force] [--backend ID]";
  c.summary =
      "Delete an image from every backend (or one), partial copies left by dead runs "
      "included; refused while volumes are clones of it or a copy of it is being written.";
  c.options = {{"force", false, "flatten the volumes cloned from it first, then delete", ""},
               {"backend", true, "remove only the copy in this backend; the others stay", "ID"}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    nlohmann::json request = {{"id", args.positional()[0]}, {"force", args.has("force")}};
    if (args.has("backend")) request["backend"] = args.get("backend");
    ProgressDisplay display("flatten clones of " + args.positional()[0]);
    auto answer =
        ctx.call("image.delete", request,
                 [&](const char*, uint64_t done, uint64_t total) { display.update(done, total); });
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      for (const auto& f : a.at("flattened")) {
        std::printf("flattened %s\n", shown(f).c_str());
      }
      std::string from, left;
      for (const auto& b : a.at("deleted_from"))
        from += (from.empty() ? "" : ", ") + b.get<std::string>();
      for (const auto& b : a.at("remaining"))
        left += (left.empty() ? "" : ", ") + b.get<std::string>();
      std::string partials;
      for (const auto& b : a.at("partials_removed"))
        partials += (partials.empty() ? "" : ", ") + b.get<std::string>();
      if (!from.empty()) {
        std::printf("deleted image %s from %s%s\n", shown(a.at("id")).c_str(), from.c_str(),
                    left.empty() ? "" : ("; still in " + left).c_str());
      }
      if (!partials.empty()) {
        std::printf("removed the partial image %s from %s (left by a run that died)\n",
                    shown(a.at("id")).c_str(), partials.c_str());
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
