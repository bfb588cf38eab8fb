// rbdvol image create-from-volume VOLUME --name NAME [--force]
#include <cstdio>

#include "cli/command.h"
#include "cli/progress_display.h"

namespace rbdvol::cli {

Command image_create_from_volume_command() {
  Command c;
  c.words = "image create-from-volume";
  c.usage = "VOLUME --name NAME [--force]";
  c.summary =
      "Make an image of a volume's data, in the backend its disk type names in image_store.";
  c.options = {{"name", true, "the image's name (required)", "NAME"},
               {"force", false, "even while the volume is attached", ""}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("name")) return usage_error("--name is required");
    nlohmann::json request = {
        {"volume", args.positional()[0]}, {"name", args.get("name")}, {"force", args.has("force")}};
    StagedProgress display([&](const std::string& stage) -> std::string {
      return stage + " of the image of volume " + args.positional()[0];
    });
    auto answer = ctx.call("image.create_from_volume", request,
                           [&](const char* stage, uint64_t done, uint64_t total) {
                             display.update(stage, done, total);
                           });
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("created image %s (%s, %s) from volume %s on backend %s as %s/%s (%s)\n",
                  shown(a.at("id")).c_str(), shown(a.at("name")).c_str(),
                  human_bytes(a.at("size")).c_str(), shown(a.at("source_volume")).c_str(),
                  shown(a.at("backend")).c_str(), shown(a.at("pool")).c_str(),
                  shown(a.at("image")).c_str(), shown(a.at("method")).c_str());
      if (a.contains("warning")) {
        std::fprintf(stderr, "warning: %s\n", shown(a.at("warning")).c_str());
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
