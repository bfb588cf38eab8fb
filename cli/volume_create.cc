// rbdvol volume create --type TYPE (--image ID | --size SIZE) [--name NAME] [--dry-run]
#include <cstdio>

#include "cli/command.h"

namespace rbdvol::cli {

Command volume_create_command() {
  Command c;
  c.words = "volume create";
  c.usage = "--type TYPE (--image ID | --size SIZE) [--name NAME] [--dry-run]";
  c.summary =
      "Create a volume of a disk type: from an image as a copy-on-write clone on a backend that "
      "holds the image, or blank.";
  c.options = {
      {"type", true, "the disk type (required)", "TYPE"},
      {"image", true, "the source image, by id or unique name", "ID"},
      {"size", true, "size with a unit: 10G, 512M (default: the image's size)", "SIZE"},
      {"name", true, "a name for the volume", "NAME"},
      {"dry-run", false, "show which backend would be chosen and why; create nothing", ""}};
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("type")) return Status::Invalid("--type is required");
    if (!args.has("image") && !args.has("size")) {
      return Status::Invalid("give --image ID or --size SIZE");
    }
    nlohmann::json request = {{"disk_type", args.get("type")}, {"dry_run", args.has("dry-run")}};
    if (args.has("image")) request["image"] = args.get("image");
    if (args.has("size")) request["size"] = args.get("size");
    if (args.has("name")) request["name"] = args.get("name");
    auto answer = ctx.call("volume.create", request);
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      const bool dry = a.value("dry_run", false);
      std::printf("%s volume %s (%s, disk type %s) on backend %s as %s/%s: %s\n",
                  dry ? "would create" : "created", a.at("id").get<std::string>().c_str(),
                  human_size(a.at("size")).c_str(), a.at("disk_type").get<std::string>().c_str(),
                  a.at("backend").get<std::string>().c_str(),
                  a.at("pool").get<std::string>().c_str(), a.at("image").get<std::string>().c_str(),
                  a.at("method").get<std::string>().c_str());
      std::printf("  why: %s\n", a.at("reason").get<std::string>().c_str());
      for (const auto& v : a.at("candidates")) {
        if (v.at("chosen").get<bool>()) continue;
        std::printf("  not %s: %s\n", v.at("backend").get<std::string>().c_str(),
                    v.at("reason").get<std::string>().c_str());
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
