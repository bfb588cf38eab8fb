// rbdvol image download ID FILE [--backend ID]
#include <cstdio>

#include "cli/command.h"
#include "cli/progress_display.h"

namespace rbdvol::cli {

Command image_download_command() {
  Command c;
  c.words = "image download";
  c.usage = "ID FILE [--backend ID]";
  c.summary =
      "Write an image's raw content (at its snapshot 'snap' when a volume made it, else its head: "
      "the same bytes) into a new sparse FILE: holes stay holes.";
  c.options = {
      {"backend", true, "read this backend's copy (default: the first that answers)", "ID"}};
  c.min_positional = c.max_positional = 2;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    nlohmann::json request = {{"id", args.positional()[0]}, {"path", args.positional()[1]}};
    if (args.has("backend")) request["backend"] = args.get("backend");
    ProgressDisplay display("download " + args.positional()[0]);
    auto answer =
        ctx.call("image.download", request,
                 [&](const char*, uint64_t done, uint64_t total) { display.update(done, total); });
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("downloaded image %s (%s) from backend %s into %s: %s written of %s\n",
                  shown(a.at("id")).c_str(), shown(a.at("name")).c_str(),
                  shown(a.at("backend")).c_str(), shown(a.at("path")).c_str(),
                  human_bytes(a.at("bytes_written")).c_str(), human_bytes(a.at("size")).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
