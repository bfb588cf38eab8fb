#include "plugin/fault_injection.h"

#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>

namespace rbdvol::plugin {

namespace {

std::mutex& list_mu() {
  static std::mutex mu;
  return mu;
}

// Set by a ScopedFaultPoints; guarded by list_mu().
std::optional<std::string>& scoped_list() {
  static std::optional<std::string> list;
  return list;
}

// The fault list in force: ",a,b=kill," (with commas at both ends), or ""
// when there is none.
std::string fault_list() {
  {
    std::lock_guard<std::mutex> lock(list_mu());
    if (scoped_list()) return scoped_list()->empty() ? "" : "," + *scoped_list() + ",";
  }
#ifdef RBDVOL_FAULT_INJECTION
  const char* env = std::getenv("RBDVOL_FAULT");
  if (env && *env) return std::string(",") + env + ",";
#endif
  return "";
}

}  // namespace

bool reads_fault_environment() {
#ifdef RBDVOL_FAULT_INJECTION
  return true;
#else
  return false;
#endif
}

Status inject_fault(const char* point) {
  const std::string list = fault_list();
  if (list.empty()) return Status::Ok();
  if (list.find(std::string(",") + point + "=kill,") != std::string::npos) {
    ::kill(::getpid(), SIGKILL);
  }
  if (list.find(std::string(",") + point + "=stop,") != std::string::npos) {
    ::kill(::getpid(), SIGSTOP);
  }
  if (list.find(std::string(",") + point + ",") == std::string::npos) return Status::Ok();
  return Status::Error(EIO, std::string("injected fault at ") + point + " (RBDVOL_FAULT)");
}

uint64_t fault_count(const char* point) {
  const std::string list = fault_list();
  const std::string key = std::string(",") + point + "=";
  const auto at = list.find(key);
  if (at == std::string::npos) return 0;
  return std::strtoull(list.c_str() + at + key.size(), nullptr, 10);
}

std::optional<std::string> forced_id() {
  const std::string list = fault_list();
  const std::string key = ",new-id=";
  const auto at = list.find(key);
  if (at == std::string::npos) return std::nullopt;
  const auto start = at + key.size();
  return list.substr(start, list.find(',', start) - start);
}

ScopedFaultPoints::ScopedFaultPoints(std::string list) {
  std::lock_guard<std::mutex> lock(list_mu());
  previous_ = scoped_list();
  scoped_list() = std::move(list);
}

ScopedFaultPoints::~ScopedFaultPoints() {
  std::lock_guard<std::mutex> lock(list_mu());
  scoped_list() = previous_;
}

}  // namespace rbdvol::plugin
