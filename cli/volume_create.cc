// rbdvol volume create --type TYPE (--size SIZE | --image ID | --snapshot ID | --source-volume ID)
//                      [--name NAME] [--dry-run]
#include <cstdio>

#include "cli/command.h"
#include "cli/progress_display.h"

namespace rbdvol::cli {

Command volume_create_command() {
  Command c;
  c.words = "volume create";
  c.usage =
      "--type TYPE (--size SIZE | --image ID | --snapshot ID | --source-volume ID) [--name NAME] "
      "[--dry-run]";
  c.summary =
      "Create a volume of a disk type: blank, or from an image, a snapshot or another volume as a "
      "copy-on-write clone on a backend that holds the source.";
  c.options = {
      {"type", true, "the disk type (required)", "TYPE"},
      {"image", true,
       "the source image, by id or unique name (the first volume from a copy of it makes the "
       "copy's snapshot 'snap'; while another process copies the image into the chosen backend, "
       "waits for that copy, up to copy_wait_timeout seconds without progress)",
       "ID"},
      {"snapshot", true, "the source snapshot, by id", "ID"},
      {"source-volume", true, "the source volume, by id", "ID"},
      {"size", true, "size with a unit: 10G, 512M (default: the source's size)", "SIZE"},
      {"name", true, "a name for the volume", "NAME"},
      {"dry-run", false, "show which backend would be chosen and why; create nothing", ""}};
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("type")) return usage_error("--type is required");
    const int sources = args.has("image") + args.has("snapshot") + args.has("source-volume");
    if (sources > 1) return usage_error("give one of --image, --snapshot, --source-volume");
    if (sources == 0 && !args.has("size")) {
      return usage_error("give --size SIZE, or a source: --image, --snapshot, --source-volume");
    }
    nlohmann::json request = {{"disk_type", args.get("type")}, {"dry_run", args.has("dry-run")}};
    if (args.has("image")) request["image"] = args.get("image");
    if (args.has("snapshot")) request["snapshot"] = args.get("snapshot");
    if (args.has("source-volume")) request["source_volume"] = args.get("source-volume");
    if (args.has("size")) request["size"] = args.get("size");
    if (args.has("name")) request["name"] = args.get("name");
    // Only a create that moves data reports progress: a copy of its source
    // (or the wait for another process's copy of its image), a flatten.
    const std::string source = args.has("image")      ? "image " + args.get("image")
                               : args.has("snapshot") ? "snapshot " + args.get("snapshot")
                                                      : "volume " + args.get("source-volume");
    StagedProgress display([&](const std::string& stage) -> std::string {
      if (stage == "wait") return "wait for the copy of " + source;
      if (stage == "flatten") return "flatten the new volume";
      return stage + " of " + source;
    });
    auto answer =
        ctx.call("volume.create", request, [&](const char* stage, uint64_t done, uint64_t total) {
          display.update(stage, done, total);
        });
    if (!answer.ok()) return answer.status();
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      const bool dry = a.value("dry_run", false);
      std::printf("%s volume %s (%s, disk type %s) on backend %s as %s/%s: %s\n",
                  dry ? "would create" : "created", shown(a.at("id")).c_str(),
                  human_bytes(a.at("size")).c_str(), shown(a.at("disk_type")).c_str(),
                  shown(a.at("backend")).c_str(), shown(a.at("pool")).c_str(),
                  shown(a.at("image")).c_str(), shown(a.at("method")).c_str());
      if (a.contains("steps")) {
        std::string steps;
        for (const auto& st : a.at("steps"))
          steps += (steps.empty() ? "" : ", ") + st.get<std::string>();
        std::printf("  steps: %s\n", printable(steps).c_str());
      }
      std::printf("  why: %s\n", shown(a.at("reason")).c_str());
      if (a.value("flattened", false)) {
        std::printf("  flattened: %s\n", printable(a.value("flatten_reason", "")).c_str());
      }
      for (const auto& v : a.at("candidates")) {
        if (v.at("chosen").get<bool>()) continue;
        std::printf("  not %s: %s\n", shown(v.at("backend")).c_str(),
                    shown(v.at("reason")).c_str());
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
