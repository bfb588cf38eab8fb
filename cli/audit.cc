// rbdvol audit [DOMAIN...] [--fix] [--live]
#include <cstdio>

#include "attach/audit.h"
#include "cli/command.h"
#include "cli/libvirt_module_loader.h"
#include "cli/plugin_volume_directory.h"

namespace rbdvol::cli {

Command audit_command() {
  Command c;
  c.words = "audit";
  c.usage = "[DOMAIN...] [--fix [--live]]";
  c.summary =
      "Find disks of rbdvol volumes whose domain XML breaks the shared-disk rules; --fix "
      "rewrites them.";
  c.options = {
      {"fix", false, "rewrite the persistent definitions of the domains at once", ""},
      {"live", false,
       "with --fix: also detach the live disk of a running domain and attach the corrected one "
       "(without it, the fix takes effect at the next boot)",
       ""},
  };
  c.min_positional = 0;
  c.max_positional = SIZE_MAX;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    attach::AuditOptions options;
    options.fix = args.has("fix");
    options.live = args.has("live");
    if (options.live && !options.fix) return usage_error("--live only goes with --fix");
    auto hv = connect_libvirt(ctx.libvirt_uri);
    if (!hv.ok()) return hv.status();
    PluginVolumeDirectory volumes(ctx);
    auto findings = attach::audit_domains(**hv, volumes, args.positional(), options);
    if (!findings.ok()) return findings.status();
    nlohmann::json answer = {{"findings", nlohmann::json::array()}, {"remaining", 0}};
    int remaining = 0;
    for (const auto& f : *findings) {
      answer["findings"].push_back({{"domain", f.domain},
                                    {"target_dev", f.target_dev},
                                    {"source", f.source},
                                    {"volume", f.volume_id},
                                    {"where", f.where},
                                    {"problems", f.problems},
                                    {"fixed", f.fixed},
                                    {"action", f.action}});
      remaining += f.fixed ? 0 : 1;
    }
    answer["remaining"] = remaining;
    print_answer(ctx, answer, [](const nlohmann::json& a) {
      if (a.at("findings").empty()) std::printf("every rbdvol disk follows the rules\n");
      for (const auto& f : a.at("findings")) {
        std::printf("%s %s (%s, %s XML):\n", shown(f.at("domain")).c_str(),
                    shown(f.at("target_dev")).c_str(), shown(f.at("source")).c_str(),
                    shown(f.at("where")).c_str());
        for (const auto& p : f.at("problems")) {
          std::printf("  - %s\n", shown(p).c_str());
        }
        const std::string action = f.at("action");
        if (f.at("fixed").get<bool>()) {
          std::printf("  fixed: %s\n", printable(action).c_str());
        } else if (!action.empty()) {
          std::printf("  not fixed: %s\n", printable(action).c_str());
        }
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
