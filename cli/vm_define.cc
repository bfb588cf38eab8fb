// rbdvol vm define NAME --volume ID [--memory M] [--vcpus N] [--from-xml FILE] [--bus B]
#include <cstdio>
#include <fstream>
#include <sstream>

#include "attach/vm_define.h"
#include "cli/backend_secret.h"
#include "cli/command.h"
#include "cli/libvirt_module_loader.h"
#include "cli/plugin_ledger.h"

namespace rbdvol::cli {

namespace {

// A whole number from 1 to `max`, with an optional unit (for --memory: M or
// MiB as is, G or GiB times 1024). 0 when `text` is not one.
unsigned parse_count(const std::string& text, unsigned max, bool memory_units) {
  size_t end = 0;
  while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
  if (end == 0 || end > 9) return 0;
  unsigned long v = std::stoul(text.substr(0, end));
  const std::string unit = text.substr(end);
  if (memory_units && (unit == "G" || unit == "GiB")) {
    v *= 1024;
  } else if (!(unit.empty() || (memory_units && (unit == "M" || unit == "MiB")))) {
    return 0;
  }
  return v >= 1 && v <= max ? static_cast<unsigned>(v) : 0;
}

}  // namespace

Command vm_define_command() {
  Command c;
  c.words = "vm define";
  c.usage = "NAME --volume ID [--memory MIB] [--vcpus N] [--from-xml FILE] [--bus virtio|scsi]";
  c.summary =
      "Define (not start) a libvirt domain that boots from a volume: its first boot disk, with "
      "the disk type's cache mode and the backend's secret.";
  c.options = {
      {"volume", true,
       "the volume that is the system disk (refused when attached elsewhere, "
       "unless its disk type is multiattach)",
       "ID"},
      {"memory", true,
       "memory in MiB, or with a unit: 512, 512M, 2G (default 512, or the "
       "template's)",
       "MIB"},
      {"vcpus", true, "virtual CPUs (default 1, or the template's)", "N"},
      {"from-xml", true,
       "a domain XML to start from: it gets NAME (its uuid dropped) and the disk, which boots "
       "first; its other devices stay",
       "FILE"},
      {"bus", true,
       "the system disk's bus: virtio (vda, virtio-blk; default) or scsi (sda, virtio-scsi)",
       "BUS"},
  };
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    attach::VmDefinition vm;
    vm.name = args.positional()[0];
    if (!args.has("volume")) return usage_error("--volume ID is required");
    const std::string volume = args.get("volume");
    if (args.has("memory")) {
      vm.memory_mib = parse_count(args.get("memory"), 16u << 20, true);
      if (vm.memory_mib == 0) {
        return usage_error("--memory takes MiB (512), or 512M or 2G, up to 16 TiB; not '" +
                           args.get("memory") + "'");
      }
    }
    if (args.has("vcpus")) {
      vm.vcpus = parse_count(args.get("vcpus"), 4096, false);
      if (vm.vcpus == 0) {
        return usage_error("--vcpus takes a whole number from 1 to 4096, not '" +
                           args.get("vcpus") + "'");
      }
    }
    vm.bus = args.get("bus", "virtio");
    if (vm.bus != "virtio" && vm.bus != "scsi") {
      return usage_error("--bus takes virtio or scsi, not '" + vm.bus + "'");
    }
    if (args.has("from-xml")) {
      const std::string path = args.get("from-xml");
      std::ifstream in(path, std::ios::binary);
      if (!in) return Status::Error(errno ? errno : ENOENT, "cannot read " + path);
      std::stringstream ss;
      ss << in.rdbuf();
      vm.template_xml = ss.str();
    }
    auto driver = ctx.driver();
    if (!driver.ok()) return driver.status();
    // The backend, to have its secret in libvirt before a domain names it.
    auto connection = ctx.call("volume.connection", {{"id", volume}});
    if (!connection.ok()) return connection.status();
    const std::string backend = connection->value("backend", "");
    auto hv = connect_libvirt(ctx.libvirt_uri);
    if (!hv.ok()) return hv.status();
    auto secret = ensure_backend_secret(ctx, **hv, backend);
    if (!secret.ok()) return secret.status();
    PluginLedger ledger(ctx, volume);
    auto defined = attach::define_vm_on_volume(**hv, ledger, vm);
    if (!defined.ok()) return defined.status();
    nlohmann::json answer = {{"domain", defined->domain},
                             {"volume", volume},
                             {"target_dev", defined->target_dev},
                             {"type", defined->virt_type},
                             {"boot_order", 1},
                             {"secret", secret->at("result")},
                             {"started", false}};
    print_answer(ctx, answer, [](const nlohmann::json& a) {
      std::printf(
          "defined domain %s (type %s) booting from volume %s as %s; not started (virsh start "
          "%s)\n",
          shown(a.at("domain")).c_str(), shown(a.at("type")).c_str(), shown(a.at("volume")).c_str(),
          shown(a.at("target_dev")).c_str(), shown(a.at("domain")).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
