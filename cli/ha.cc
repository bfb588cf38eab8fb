// rbdvol ha define|list|show|status|maintenance|relocate|undefine: the HA
// definitions kept in Ceph (plugin operations ha.*; docs/ha.md). The agent
// that acts on them is ha_agent.cc.
#include <cmath>
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

// The Hypervisor define_vm_on_volume builds the template through: the host's
// capabilities come from the local libvirt, the domain it would define is
// kept (the agents define it on the node that runs it), and no domain of the
// name is looked up here: from now on the name is the HA definition's.
class TemplateCapture final : public attach::Hypervisor {
 public:
  explicit TemplateCapture(attach::Hypervisor& real) : real_(real) {}
  Result<bool> is_running(const std::string& domain) override {
    return Status::NotFound("domain " + domain);
  }
  Result<std::string> domain_xml(const std::string& domain, bool) override {
    return Status::NotFound("domain " + domain);
  }
  Status attach_device(const std::string&, const std::string&, bool, bool) override {
    return Status::Error(EOPNOTSUPP, "no live domain here");
  }
  Status detach_device(const std::string&, const std::string&, bool, bool) override {
    return Status::Error(EOPNOTSUPP, "no live domain here");
  }
  Status define_domain(const std::string& xml) override {
    xml_ = xml;
    return Status::Ok();
  }
  Status undefine_domain(const std::string&) override { return Status::Ok(); }
  Result<std::string> capabilities_xml() override { return real_.capabilities_xml(); }
  const std::string& xml() const { return xml_; }

 private:
  attach::Hypervisor& real_;
  std::string xml_;
};

// A whole number of seconds for --lease-seconds and the like; -1 when not one.
int parse_seconds(const std::string& text) {
  if (text.empty() || text.size() > 6) return -1;
  for (char c : text) {
    if (c < '0' || c > '9') return -1;
  }
  return std::stoi(text);
}

std::vector<std::string> split_nodes(const std::string& text) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : text + ",") {
    if (c == ',') {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

std::string ago(double now, double t) {
  char buf[48];
  const double d = now - t;
  if (d < 120) {
    std::snprintf(buf, sizeof buf, "%.1f s ago", d);
  } else {
    std::snprintf(buf, sizeof buf, "%.0f min ago", d / 60);
  }
  return buf;
}

// The status of one definition as `ha status --json` prints it, from the
// answer of ha.show.
nlohmann::json status_of(const nlohmann::json& shown_answer) {
  const auto& state = shown_answer.at("state");
  const bool free = state.value("holder", "").empty() || state.value("released", false);
  nlohmann::json checks = nlohmann::json::object();
  for (const auto& [node, check] : shown_answer.at("checks").items()) checks[node] = check;
  return {{"name", shown_answer.at("name")},
          {"volume", shown_answer.at("volume")},
          {"backend", shown_answer.at("backend")},
          {"nodes", shown_answer.at("nodes")},
          {"maintenance", state.value("maintenance", false)},
          {"holder", free ? "" : state.value("holder", "")},
          {"epoch", state.value("epoch", 0)},
          {"lease_expires", free ? nlohmann::json() : nlohmann::json(state.value("expires", 0.0))},
          {"relocate_to", state.value("relocate_to", "")},
          {"lease_seconds", shown_answer.at("lease_seconds")},
          {"grace_seconds", shown_answer.at("grace_seconds")},
          {"interval_seconds", shown_answer.at("interval_seconds")},
          {"lockers", shown_answer.at("lockers")},
          {"checks", checks},
          {"blocklisted", shown_answer.at("blocklisted")},
          {"now", shown_answer.at("now")}};
}

void print_status(const nlohmann::json& s) {
  const double now = s.at("now").get<double>();
  std::printf("HA domain %s: volume %s on backend %s\n", shown(s.at("name")).c_str(),
              shown(s.at("volume")).c_str(), shown(s.at("backend")).c_str());
  std::string nodes;
  for (size_t i = 0; i < s.at("nodes").size(); ++i) {
    nodes += (i ? ", " : "") + shown(s.at("nodes")[i]) + (i == 0 ? " (primary)" : "");
  }
  std::printf("  nodes: %s\n", nodes.c_str());
  if (s.at("holder").get<std::string>().empty()) {
    std::printf("  lease: free (epoch %s)\n", shown(s.at("epoch")).c_str());
  } else {
    const double expires = s.at("lease_expires").get<double>();
    std::printf("  lease: held by %s, epoch %s, %s %.1f s%s\n", shown(s.at("holder")).c_str(),
                shown(s.at("epoch")).c_str(), expires >= now ? "expires in" : "expired",
                std::fabs(expires - now), expires >= now ? "" : " ago");
  }
  std::printf("  maintenance: %s\n", s.at("maintenance").get<bool>() ? "on" : "off");
  if (!s.at("relocate_to").get<std::string>().empty()) {
    std::printf("  relocating to: %s\n", shown(s.at("relocate_to")).c_str());
  }
  for (const auto& node : s.at("nodes")) {
    const std::string n = node.get<std::string>();
    if (!s.at("checks").contains(n)) {
      std::printf("  %s: no check yet\n", shown(node).c_str());
      continue;
    }
    const auto& c = s.at("checks").at(n);
    std::printf("  %s: checked %s: %s (%s)%s\n", shown(node).c_str(),
                ago(now, c.value("time", 0.0)).c_str(), shown(c.value("decision", "?")).c_str(),
                shown(c.value("reason", "")).c_str(), c.value("running", false) ? ", running" : "");
  }
  for (const auto& b : s.at("blocklisted")) {
    std::printf("  blocklisted: %s at epoch %s by %s, %s\n", shown(b.value("address", "")).c_str(),
                shown(b.value("epoch", 0)).c_str(), shown(b.value("node", "")).c_str(),
                ago(now, b.value("time", 0.0)).c_str());
  }
}

}  // namespace

Command ha_define_command() {
  Command c;
  c.words = "ha define";
  c.usage =
      "NAME --volume ID --nodes N1,N2[,...] [--domain-xml FILE] [--memory MIB] [--vcpus N] "
      "[--lease-seconds S] [--grace-seconds S] [--interval-seconds S]";
  c.summary =
      "Keep domain NAME, booted from a volume, running on exactly one of the nodes (the first is "
      "the primary); the definition is kept in Ceph, on the volume's backend.";
  c.options = {
      {"volume", true, "the domain's system disk (attached to NAME from now on)", "ID"},
      {"nodes", true, "the nodes that may run it, in priority order, comma-separated", "N1,N2"},
      {"domain-xml", true,
       "a domain XML to start from (as vm define --from-xml); default: a small domain with a "
       "serial console",
       "FILE"},
      {"memory", true, "memory in MiB (default 512, or the template's)", "MIB"},
      {"vcpus", true, "virtual CPUs (default 1, or the template's)", "N"},
      {"lease-seconds", true, "how long a lease lasts unless renewed (default 12)", "S"},
      {"grace-seconds", true,
       "how long past its expiry another node waits before it takes the lease (default 4)", "S"},
      {"interval-seconds", true,
       "how often each agent checks (default 2; the lease lasts at least 3 intervals)", "S"},
  };
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    attach::VmDefinition vm;
    vm.name = args.positional()[0];
    if (!args.has("volume")) return usage_error("--volume ID is required");
    if (!args.has("nodes")) return usage_error("--nodes N1,N2 is required");
    const std::string volume = args.get("volume");
    nlohmann::json request = {
        {"name", vm.name}, {"volume", volume}, {"nodes", split_nodes(args.get("nodes"))}};
    for (const char* key : {"lease-seconds", "grace-seconds", "interval-seconds"}) {
      if (!args.has(key)) continue;
      const int v = parse_seconds(args.get(key));
      if (v < 0) {
        return usage_error(std::string("--") + key + " takes a whole number of seconds, not '" +
                           args.get(key) + "'");
      }
      std::string field = key;
      field[field.find('-')] = '_';
      request[field] = v;
    }
    if (args.has("memory")) {
      const int v = parse_seconds(args.get("memory"));
      if (v < 1) return usage_error("--memory takes MiB (512), not '" + args.get("memory") + "'");
      vm.memory_mib = static_cast<unsigned>(v);
    }
    if (args.has("vcpus")) {
      const int v = parse_seconds(args.get("vcpus"));
      if (v < 1 || v > 4096) {
        return usage_error("--vcpus takes 1 to 4096, not '" + args.get("vcpus") + "'");
      }
      vm.vcpus = static_cast<unsigned>(v);
    }
    if (args.has("domain-xml")) {
      const std::string path = args.get("domain-xml");
      std::ifstream in(path, std::ios::binary);
      if (!in) return Status::Error(errno ? errno : ENOENT, "cannot read " + path);
      std::stringstream ss;
      ss << in.rdbuf();
      vm.template_xml = ss.str();
    }
    auto driver = ctx.driver();
    if (!driver.ok()) return driver.status();
    auto hv = connect_libvirt(ctx.libvirt_uri);
    if (!hv.ok()) return hv.status();
    TemplateCapture capture(**hv);
    // The attachment record names the HA domain wherever it runs.
    PluginLedger ledger(ctx, volume);
    auto built = attach::define_vm_on_volume(capture, ledger, vm);
    if (!built.ok()) return built.status();
    request["domain_xml"] = capture.xml();
    auto defined = ctx.call("ha.define", request);
    if (!defined.ok()) {
      Status undone = ledger.release(vm.name);
      if (!undone.ok()) {
        std::fprintf(stderr, "warning: the attachment of %s to %s stays: %s\n", volume.c_str(),
                     vm.name.c_str(), undone.message().c_str());
      }
      return defined.status();
    }
    nlohmann::json answer = *defined;
    answer["target_dev"] = built->target_dev;
    answer["type"] = built->virt_type;
    print_answer(ctx, answer, [](const nlohmann::json& a) {
      std::string nodes;
      for (const auto& n : a.at("nodes")) nodes += (nodes.empty() ? "" : ", ") + shown(n);
      std::printf(
          "defined HA domain %s on volume %s (backend %s), nodes %s; lease %s s, grace %s s, "
          "check every %s s. Run `rbdvol ha agent --node NODE` on each node.\n",
          shown(a.at("name")).c_str(), shown(a.at("volume")).c_str(),
          shown(a.at("backend")).c_str(), nodes.c_str(), shown(a.at("lease_seconds")).c_str(),
          shown(a.at("grace_seconds")).c_str(), shown(a.at("interval_seconds")).c_str());
    });
    return Status::Ok();
  };
  return c;
}

Command ha_list_command() {
  Command c;
  c.words = "ha list";
  c.summary = "List the HA domains of every backend: volume, nodes, lease holder and epoch.";
  c.run = [](Context& ctx, const Arguments&) -> Status {
    auto listed = ctx.call("ha.list", nlohmann::json::object());
    if (!listed.ok()) return listed.status();
    print_answer(ctx, *listed, [](const nlohmann::json& a) {
      if (a.at("domains").empty()) std::printf("no HA domains\n");
      for (const auto& d : a.at("domains")) {
        std::string nodes;
        for (const auto& n : d.at("nodes")) nodes += (nodes.empty() ? "" : ",") + shown(n);
        const std::string holder = d.at("holder").get<std::string>();
        std::printf("%-24s volume %s (%s)  nodes %s  holder %s  epoch %s%s\n",
                    shown(d.at("name")).c_str(), shown(d.at("volume")).c_str(),
                    shown(d.at("backend")).c_str(), nodes.c_str(),
                    holder.empty() ? "-" : shown(holder).c_str(), shown(d.at("epoch")).c_str(),
                    d.at("maintenance").get<bool>() ? "  maintenance" : "");
      }
    });
    return unreachable_backends(listed->at("unreachable"), "HA domains");
  };
  return c;
}

Command ha_show_command() {
  Command c;
  c.words = "ha show";
  c.usage = "NAME";
  c.summary = "Show an HA definition: volume, nodes, timings, the domain template, the lease.";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto shown_answer = ctx.call("ha.show", {{"name", args.positional()[0]}});
    if (!shown_answer.ok()) return shown_answer.status();
    print_answer(ctx, *shown_answer, [](const nlohmann::json& a) {
      print_status(status_of(a));
      std::printf("  timings: lease %s s, grace %s s, check every %s s\n",
                  shown(a.at("lease_seconds")).c_str(), shown(a.at("grace_seconds")).c_str(),
                  shown(a.at("interval_seconds")).c_str());
      std::printf("  domain template:\n%s\n", a.at("domain_xml").get<std::string>().c_str());
    });
    return Status::Ok();
  };
  return c;
}

Command ha_status_command() {
  Command c;
  c.words = "ha status";
  c.usage = "NAME";
  c.summary =
      "Where an HA domain stands: the lease's holder, epoch and expiry, each node's last check "
      "and what it decided, the clients blocklisted.";
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    auto shown_answer = ctx.call("ha.show", {{"name", args.positional()[0]}});
    if (!shown_answer.ok()) return shown_answer.status();
    print_answer(ctx, status_of(*shown_answer), print_status);
    return Status::Ok();
  };
  return c;
}

Command ha_maintenance_command() {
  Command c;
  c.words = "ha maintenance";
  c.usage = "NAME on|off";
  c.summary =
      "Maintenance on: every agent leaves the domain alone (starts, stops and moves nothing); off: "
      "they take care of it again.";
  c.min_positional = c.max_positional = 2;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    const std::string& mode = args.positional()[1];
    if (mode != "on" && mode != "off")
      return usage_error("maintenance is on or off, not '" + mode + "'");
    auto updated =
        ctx.call("ha.update", {{"name", args.positional()[0]}, {"maintenance", mode == "on"}});
    if (!updated.ok()) return updated.status();
    print_answer(ctx, *updated, [&](const nlohmann::json& a) {
      std::printf("HA domain %s: maintenance %s\n", shown(a.at("name")).c_str(), mode.c_str());
    });
    return Status::Ok();
  };
  return c;
}

Command ha_relocate_command() {
  Command c;
  c.words = "ha relocate";
  c.usage = "NAME --to NODE";
  c.summary =
      "Move an HA domain cleanly: its holder stops it and releases the lease, and NODE takes the "
      "lease and starts it.";
  c.options = {{"to", true, "the node to run it on", "NODE"}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    if (!args.has("to")) return usage_error("--to NODE is required");
    auto updated =
        ctx.call("ha.update", {{"name", args.positional()[0]}, {"relocate_to", args.get("to")}});
    if (!updated.ok()) return updated.status();
    print_answer(ctx, *updated, [&](const nlohmann::json& a) {
      const std::string target = a.at("state").value("relocate_to", "");
      if (target.empty()) {
        std::printf("HA domain %s already runs on %s\n", shown(a.at("name")).c_str(),
                    shown(args.get("to")).c_str());
      } else {
        std::printf("HA domain %s: relocating to %s (the agents move it at their next checks)\n",
                    shown(a.at("name")).c_str(), shown(target).c_str());
      }
    });
    return Status::Ok();
  };
  return c;
}

Command ha_undefine_command() {
  Command c;
  c.words = "ha undefine";
  c.usage = "NAME [--force]";
  c.summary =
      "Remove an HA definition and its volume's attachment to NAME. Refused while a node holds "
      "the lease, unless in maintenance or forced; the domain itself is left where it is.";
  c.options = {{"force", false, "remove it even while a node holds the lease", ""}};
  c.min_positional = c.max_positional = 1;
  c.run = [](Context& ctx, const Arguments& args) -> Status {
    const std::string name = args.positional()[0];
    auto removed = ctx.call("ha.undefine", {{"name", name}, {"force", args.has("force")}});
    if (!removed.ok()) return removed.status();
    nlohmann::json answer = *removed;
    auto detached =
        ctx.call("attachment.delete", {{"volume", removed->at("volume")}, {"domain", name}});
    answer["attachment_removed"] = detached.ok();
    if (!detached.ok() && detached.status().err() != ENOENT) {
      std::fprintf(stderr, "warning: the attachment of volume %s to %s stays: %s\n",
                   shown(removed->at("volume")).c_str(), name.c_str(),
                   detached.status().message().c_str());
    }
    print_answer(ctx, answer, [](const nlohmann::json& a) {
      std::printf("undefined HA domain %s (volume %s); the domain itself is left as it is\n",
                  shown(a.at("name")).c_str(), shown(a.at("volume")).c_str());
    });
    return Status::Ok();
  };
  return c;
}

}  // namespace rbdvol::cli
