// rbdvol volume extend ID --size SIZE
#include <cstdio>

#include "attach/attach_volume.h"
#include "cli/command.h"
#include "cli/libvirt_module_loader.h"

namespace rbdvol::cli {

Command volume_extend_command() {
  Command c;
  c.words = "volume extend";
  c.usage = "ID --size SIZE";
  c.summary =
      "Grow a volume to SIZE (volumes never shrink); running domains it is attached to are told "
      "the new size, so their guests see it at once.";
  c.options = {{"size", true, "the new size with a unit: 10G, 512M (required)", "SIZE"}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("size")) return Status::Invalid("--size is required");
    auto answer =
        ctx.call("volume.extend", {{"id", args.positional()[0]}, {"size", args.get("size")}});
    if (!answer.ok()) return answer.status();
    // The guests of the domains it is attached to see the new size once
    // their QEMU is told (virDomainBlockResize), as Nova does for Cinder.
    auto info = ctx.call("volume.show", {{"id", answer->at("id")}});
    if (!info.ok()) return info.status().Prefixed("extended, but cannot list its attachments");
    std::vector<std::string> domains;
    for (const auto& a : info->at("attachments")) domains.push_back(a.value("domain", ""));
    std::string failed;
    (*answer)["domains"] = nlohmann::json::array();
    if (!domains.empty()) {
      auto hv = connect_libvirt(ctx.libvirt_uri);
      if (!hv.ok()) return hv.status().Prefixed("extended, but cannot tell its domains");
      const std::string source =
          info->at("pool").get<std::string>() + "/" + info->at("image").get<std::string>();
      auto told = attach::announce_volume_size(**hv, source, domains, answer->at("size"));
      if (!told.ok()) return told.status().Prefixed("extended, but cannot tell its domains");
      for (const auto& d : *told) {
        (*answer)["domains"].push_back({{"domain", d.domain},
                                        {"target_dev", d.target_dev},
                                        {"told", d.told},
                                        {"note", d.note}});
        if (d.failed) failed += "; " + d.domain + ": " + d.note;
      }
    }
    print_answer(ctx, *answer, [](const nlohmann::json& a) {
      std::printf("extended volume %s on backend %s from %s to %s\n",
                  a.at("id").get<std::string>().c_str(), a.at("backend").get<std::string>().c_str(),
                  human_size(a.at("old_size")).c_str(), human_size(a.at("size")).c_str());
      for (const auto& d : a.at("domains")) {
        if (d.at("told").get<bool>()) {
          std::printf(
              "  %s: its guest sees %s as %s now\n", d.at("domain").get<std::string>().c_str(),
              d.at("target_dev").get<std::string>().c_str(), human_size(a.at("size")).c_str());
        } else {
          std::printf("  %s: %s\n", d.at("domain").get<std::string>().c_str(),
                      d.at("note").get<std::string>().c_str());
        }
      }
    });
    if (!failed.empty()) {
      const std::string bytes = std::to_string(answer->at("size").get<uint64_t>());
      return Status::Error(EIO, "volume " + answer->at("id").get<std::string>() +
                                    " was extended to " + bytes +
                                    " bytes, but these domains were not told (virsh blockresize "
                                    "DOMAIN DEV " +
                                    bytes + "B tells one): " + failed.substr(2));
    }
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
