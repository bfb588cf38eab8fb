// rbdvol detach VOLUME [DOMAIN...]
#include <cstdio>

#include "attach/attach_volume.h"
#include "cli/command.h"
#include "cli/libvirt_module_loader.h"
#include "cli/plugin_ledger.h"

namespace rbdvol::cli {

Command detach_command() {
  Command c;
  c.words = "detach";
  c.usage = "VOLUME [DOMAIN...]";
  c.summary =
      "Detach a volume from the named domains (from every domain it is attached to if none is "
      "named).";
  c.min_positional = 1;
  c.max_positional = SIZE_MAX;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    const std::string volume = args.positional()[0];
    std::vector<std::string> domains(args.positional().begin() + 1, args.positional().end());
    auto info = ctx.call("volume.show", {{"id", volume}});
    if (!info.ok()) return info.status();
    if (domains.empty()) {
      for (const auto& a : info->at("attachments")) domains.push_back(a.value("domain", ""));
      if (domains.empty())
        return Status::Invalid("volume " + volume + " is not attached to any domain");
    }
    auto hv = connect_libvirt(ctx.libvirt_uri);
    if (!hv.ok()) return hv.status();
    PluginLedger ledger(ctx, volume);
    const std::string source =
        info->at("pool").get<std::string>() + "/" + info->at("image").get<std::string>();
    auto detached = attach::detach_volume(**hv, ledger, source, domains);
    if (!detached.ok()) return detached.status();
    nlohmann::json answer = {{"volume", info->at("id")}, {"detached", nlohmann::json::array()}};
    for (const auto& d : *detached) {
      answer["detached"].push_back({{"domain", d.domain},
                                    {"target_dev", d.target_dev},
                                    {"live_pending", d.live_pending},
                                    {"missing", d.missing}});
    }
    print_answer(ctx, answer, [](const nlohmann::json& a) {
      for (const auto& d : a.at("detached")) {
        if (d.at("missing").get<bool>()) {
          std::printf("volume %s was not in %s (no such domain or disk); its record is removed\n",
                      shown(a.at("volume")).c_str(), shown(d.at("domain")).c_str());
          continue;
        }
        std::printf(
            "detached volume %s from %s (%s)%s\n", shown(a.at("volume")).c_str(),
            shown(d.at("domain")).c_str(), shown(d.at("target_dev")).c_str(),
            d.at("live_pending").get<bool>()
                ? "; the running guest has not released the disk yet (it goes at its next boot "
                  "or when the guest answers the unplug request)"
                : "");
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
