// rbdvol image checksum FILE [--chunk-size SIZE]
#include <cstdio>

#include "cli/command.h"
#include "cli/progress_display.h"

namespace rbdvol::cli {

Command image_checksum_command() {
  Command c;
  c.words = "image checksum";
  c.usage = "FILE [--chunk-size SIZE]";
  c.summary =
      "Print the checksum 'image upload' records for FILE (raw, or qcow2 converted to raw), "
      "without uploading it: sha256-chunks-<chunk size>:<hex>, the SHA-256 of the SHA-256 of "
      "every chunk, a chunk of zeros counting with the SHA-256 of its zeros. Compare it with "
      "the checksum 'image show' prints. Needs no config file and talks to no cluster.";
  c.options = {{"chunk-size", true,
                "the chunk size, the number in the checksum's name: the object size of the "
                "uploaded image (default 4M, RBD's default)",
                "SIZE"}};
  c.min_positional = c.max_positional = 1;
  c.needs_config = false;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    const std::string path = args.positional()[0];
    nlohmann::json request = {{"path", path}};
    if (args.has("chunk-size")) request["chunk_size"] = args.get("chunk-size");
    StagedProgress display([&](const std::string& stage) -> std::string {
      if (stage == "convert") return "convert " + path + " to raw";
      return stage + " " + path;
    });
    auto answer =
        ctx.call("image.checksum", request, [&](const char* stage, uint64_t done, uint64_t total) {
          display.update(stage, done, total);
        });
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("%s  %s\n", shown(a.at("checksum")).c_str(), shown(a.at("path")).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
