// rbdvol attach VOLUME DOMAIN...
#include <cstdio>

#include "attach/attach_volume.h"
#include "cli/command.h"
#include "cli/libvirt_module_loader.h"
#include "cli/plugin_ledger.h"

namespace rbdvol::cli {

Command attach_command() {
  Command c;
  c.words = "attach";
  c.usage = "VOLUME DOMAIN... [--bus virtio|scsi|sata] [--boot]";
  c.summary =
      "Attach a volume to one or more libvirt domains, all or none (several only for a "
      "multiattach disk type, as a shared disk).";
  c.options = {{"bus", true,
                "the disk's bus: virtio (vdX, default), scsi (sdX, on the virtio-scsi controller; "
                "its live detach needs no help from the guest) or sata",
                "BUS"},
               {"boot", false,
                "make it the domain's first boot disk: <boot order='1'/> in its definition, the "
                "other devices' boot orders shifted up, <os><boot dev=...> removed (a running "
                "domain boots from it at its next start)",
                ""}};
  c.min_positional = 2;
  c.max_positional = SIZE_MAX;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    const std::string volume = args.positional()[0];
    std::vector<std::string> domains(args.positional().begin() + 1, args.positional().end());
    auto driver = ctx.driver();
    if (!driver.ok()) return driver.status();
    auto hv = connect_libvirt(ctx.libvirt_uri);
    if (!hv.ok()) return hv.status();
    PluginLedger ledger(ctx, volume);
    attach::AttachOptions options;
    options.bus = args.get("bus", "virtio");
    options.boot = args.has("boot");
    auto attached = attach::attach_volume(**hv, ledger, domains, options);
    if (!attached.ok()) return attached.status();
    nlohmann::json answer = {{"volume", volume}, {"attachments", nlohmann::json::array()}};
    for (const auto& a : *attached) {
      answer["attachments"].push_back({{"domain", a.domain},
                                       {"target_dev", a.target_dev},
                                       {"live", a.live},
                                       {"persistent", a.persistent},
                                       {"boot", a.boot}});
    }
    print_answer(ctx, answer, [](const nlohmann::json& a) {
      for (const auto& at : a.at("attachments")) {
        std::printf("attached volume %s to %s as %s (%s)%s\n", shown(a.at("volume")).c_str(),
                    shown(at.at("domain")).c_str(), shown(at.at("target_dev")).c_str(),
                    !at.at("persistent").get<bool>() ? "live; a transient domain has no definition"
                    : at.at("live").get<bool>()      ? "live and persistent"
                                                     : "persistent; domain is shut off",
                    !at.at("boot").get<bool>()  ? ""
                    : at.at("live").get<bool>() ? ", first boot disk from its next start"
                                                : ", first boot disk");
      }
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
