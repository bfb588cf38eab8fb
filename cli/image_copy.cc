// rbdvol image copy ID --to BACKEND[,BACKEND...] [--keep-partial] [--resume]
#include <cstdio>

#include "cli/command.h"
#include "cli/progress_display.h"

namespace rbdvol::cli {

Command image_copy_command() {
  Command c;
  c.words = "image copy";
  c.usage = "ID --to BACKEND[,BACKEND...] [--keep-partial] [--resume]";
  c.summary =
      "Copy an image into more backends (the same image-<uuid> with its metadata); all or "
      "nothing. The first volume cloned from a copy makes its protected snapshot 'snap'.";
  c.options = {
      {"to", true, "the backends to copy into, comma separated (required)", "BACKENDS"},
      {"keep-partial", false,
       "keep the copies that succeeded when another target fails (default: remove them)", ""},
      {"resume", false,
       "continue a partial copy left in a target by an interrupted run (without it, such a "
       "copy is an error)",
       ""}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("to")) return usage_error("--to is required");
    nlohmann::json request = {{"id", args.positional()[0]},
                              {"to", args.get("to")},
                              {"all_or_nothing", !args.has("keep-partial")},
                              {"resume", args.has("resume")}};
    ProgressDisplay display("copy " + args.positional()[0]);
    auto answer = ctx.call("image.copy", request, [&](const char*, uint64_t done, uint64_t total) {
      display.update(done, total);
    });
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      const std::string id = a.at("id");
      for (const auto& cp : a.at("copied")) {
        std::printf(
            "copied image %s to backend %s as %s/%s (%llu chunks written, %llu "
            "already confirmed)\n",
            id.c_str(), shown(cp.at("backend")).c_str(), shown(cp.at("pool")).c_str(),
            shown(cp.at("image")).c_str(), cp.at("chunks_written").get<unsigned long long>(),
            cp.at("chunks_skipped_confirmed").get<unsigned long long>());
      }
      for (const auto& s : a.at("skipped")) {
        std::printf("skipped backend %s: %s\n", shown(s.at("backend")).c_str(),
                    shown(s.at("reason")).c_str());
      }
      for (const auto& f : a.at("failed")) {
        std::printf("FAILED backend %s: %s\n", shown(f.at("backend")).c_str(),
                    shown(f.at("error")).c_str());
      }
    });
    if (!answer->at("failed").empty()) {
      return Status::Error(EIO, "some copies failed (kept the others: --keep-partial)");
    }
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
