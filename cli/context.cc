#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "cli/command.h"
#include "cli/exit_status.h"

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
  auto answer = (*d)->call(op, request, progress);
  // What an operation did but could not finish around it (a directory left
  // out of date) is said, whatever the output format.
  if (answer.ok() && answer->is_object() && answer->contains("warnings")) {
    for (const auto& w : answer->at("warnings")) {
      std::fprintf(stderr, "warning: %s\n", shown(w).c_str());
    }
  }
  return answer;
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

std::vector<OptionSpec> listing_options(const std::string& what) {
  return {
      {"limit", true, "at most N " + what + " (one page)", "N"},
      {"marker", true, "start after the " + what.substr(0, what.size() - 1) + " with this id",
       "ID"},
      {"sort", true, "order by KEY[:asc|desc],... (name, created_at, size, id, backend)", "KEYS"},
      {"name", true, "only those of this exact name", "NAME"}};
}

Status add_listing_request(const Arguments& args, nlohmann::json* request) {
  if (args.has("limit")) {
    const std::string text = args.get("limit");
    char* end = nullptr;
    errno = 0;
    const unsigned long long v = std::strtoull(text.c_str(), &end, 10);
    if (text.empty() || *end || text[0] == '-' || v == 0 || errno == ERANGE) {
      return usage_error("--limit takes a whole number of at least 1, not '" + text + "'");
    }
    (*request)["limit"] = static_cast<uint64_t>(v);
  }
  for (const char* field : {"marker", "sort", "name"}) {
    if (args.has(field)) (*request)[field] = args.get(field);
  }
  return Status::Ok();
}

void print_next_page(const nlohmann::json& answer, const std::string& command) {
  if (!answer.contains("next_marker")) return;
  std::fprintf(stderr, "more follow: %s --marker %s\n", command.c_str(),
               shown(answer.at("next_marker")).c_str());
}

}  // namespace rbdvol::cli
