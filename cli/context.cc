#include <cinttypes>
#include <cstdio>
#include <iostream>

#include "cli/command.h"
#include "cli/exit_status.h"

namespace rbdvol::cli {

Result<PluginHost*> Context::driver() {
  if (plugin_) return plugin_.get();
  auto host = PluginHost::load(host::find_plugin(driver_path));
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

std::string backend_error(const std::string& backend, const std::string& error) {
  const std::string prefix = "backend " + backend;
  if (error.compare(0, prefix.size() + 1, prefix + ":") == 0 ||
      error.compare(0, prefix.size() + 1, prefix + " ") == 0) {
    return error;
  }
  return prefix + ": " + error;
}

Status unreachable_backends(const nlohmann::json& unreachable, const std::string& what) {
  if (unreachable.empty()) return Status::Ok();
  std::string names;
  for (const auto& u : unreachable) {
    names += (names.empty() ? "" : ", ") + u.at("backend").get<std::string>();
  }
  return Status::Error(EHOSTUNREACH, what + " is incomplete: backend(s) " + names +
                                         " could not be listed (why is printed above)");
}

std::string shown(const nlohmann::json& value) {
  return printable(value.is_string() ? value.get<std::string>() : value.dump());
}

Status usage_error(std::string message) { return Status::Error(kUsageErrno, std::move(message)); }

}  // namespace rbdvol::cli
