// rbdvol image upload FILE --name NAME [--backend ID] [--resume]
#include <cstdio>

#include "cli/command.h"
#include "cli/progress_display.h"

namespace rbdvol::cli {

Command image_upload_command() {
  Command c;
  c.words = "image upload";
  c.usage = "FILE --name NAME [--backend ID] [--resume]";
  c.summary =
      "Upload a raw or qcow2 image file (told apart by content; qcow2 is stored as raw) as "
      "image-<uuid>. Its protected snapshot 'snap', which volumes clone, is made by the first "
      "volume created from it: a snapshot costs a monitor commit that an image never cloned does "
      "not need.";
  c.options = {{"name", true, "the image's name (required)", "NAME"},
               {"backend", true, "the backend to upload into (default: the default backend)", "ID"},
               {"resume", false,
                "continue the partial upload of this same file that an interrupted run left in the "
                "backend, if there is one (chunks already confirmed are not sent again)",
                ""}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("name")) return usage_error("--name is required");
    nlohmann::json request = {{"path", args.positional()[0]}, {"name", args.get("name")}};
    if (args.has("backend")) request["backend"] = args.get("backend");
    if (args.has("resume")) request["resume"] = true;
    StagedProgress display([&](const std::string& stage) -> std::string {
      if (stage == "convert") return "convert " + args.positional()[0] + " to raw";
      return stage + " " + args.positional()[0];
    });
    auto answer =
        ctx.call("image.upload", request, [&](const char* stage, uint64_t done, uint64_t total) {
          display.update(stage, done, total);
        });
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("uploaded image %s (%s, %s, from %s) to backend %s as %s/%s\n",
                  shown(a.at("id")).c_str(), shown(a.at("name")).c_str(),
                  human_bytes(a.at("size")).c_str(), shown(a.at("format")).c_str(),
                  shown(a.at("backend")).c_str(), shown(a.at("pool")).c_str(),
                  shown(a.at("image")).c_str());
      std::printf("checksum %s\n", printable(a.value("checksum", std::string())).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
