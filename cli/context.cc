#include <cinttypes>
#include <cstdio>
#include <iostream>

#include "cli/command.h"

namespace rbdvol::cli {

Result<PluginHost*> Context::driver() {
  if (plugin_) return plugin_.get();
  auto host = PluginHost::load(find_plugin(driver_path));
  if (!host.ok()) return host.status();
  Status s = with_config ? (*host)->open(config_path) : (*host)->open_without_config();
  if (!s.ok()) return s;
  plugin_ = std::move(host).value();
  return plugin_.get();
}

Result<nlohmann::json> Context::call(const std::string& op, const nlohmann::json& request,
                                     const PluginHost::ProgressFn& progress) {
  auto d = driver();
  if (!d.ok()) return d.status();
  return (*d)->call(op, request, progress);
}

void print_answer(const Context& ctx, const nlohmann::json& answer,
                  const std::function<void(const nlohmann::json&)>& human) {
  if (ctx.json) {
    std::cout << answer.dump(2) << std::endl;
  } else {
    human(answer);
  }
}

std::string human_size(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

}  // namespace rbdvol::cli
