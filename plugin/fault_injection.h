// A test hook in the manner of leveldb's fault-injecting Env: when the
// environment variable RBDVOL_FAULT names `point` (or a comma list holds it),
// inject_fault(point) returns EIO, so a test can make an operation fail half
// way against a real cluster and check that nothing was left behind. When it
// holds "point=kill", the process kills itself with SIGKILL there instead: a
// real kill, which undoes nothing, so a test can check what a crash at that
// point leaves and that a resumed run finishes it. "point=stop" stops the
// process there (SIGSTOP) and goes on when it is continued, so a test can
// act while it waits at that point. Off (one getenv) in normal use. The
// points are listed in docs/driver-abi.md.
#pragma once

#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "status/status.h"

namespace rbdvol::plugin {

inline Status inject_fault(const char* point) {
  const char* env = std::getenv("RBDVOL_FAULT");
  if (!env || !*env) return Status::Ok();
  const std::string list = std::string(",") + env + ",";
  if (list.find(std::string(",") + point + "=kill,") != std::string::npos) {
    ::kill(::getpid(), SIGKILL);
  }
  if (list.find(std::string(",") + point + "=stop,") != std::string::npos) {
    ::kill(::getpid(), SIGSTOP);
  }
  if (list.find(std::string(",") + point + ",") == std::string::npos) return Status::Ok();
  return Status::Error(EIO, std::string("injected fault at ") + point + " (RBDVOL_FAULT)");
}

// The N of "point=N" in RBDVOL_FAULT (a test hook that takes a count, such
// as image.copy:kill-after-chunk=N); 0 when the list does not hold it.
inline uint64_t fault_count(const char* point) {
  const char* env = std::getenv("RBDVOL_FAULT");
  if (!env || !*env) return 0;
  const std::string list = std::string(",") + env;
  const std::string key = std::string(",") + point + "=";
  const auto at = list.find(key);
  if (at == std::string::npos) return 0;
  return std::strtoull(list.c_str() + at + key.size(), nullptr, 10);
}

// The uuid that "new-id=<uuid>" in RBDVOL_FAULT makes the next new volume
// or image id (new_unused_id in records/catalog.h) be: how a test checks
// that an id that names something already is refused.
inline std::optional<std::string> forced_id() {
  const char* env = std::getenv("RBDVOL_FAULT");
  if (!env || !*env) return std::nullopt;
  const std::string list = std::string(",") + env + ",";
  const std::string key = ",new-id=";
  const auto at = list.find(key);
  if (at == std::string::npos) return std::nullopt;
  const auto start = at + key.size();
  return list.substr(start, list.find(',', start) - start);
}

}  // namespace rbdvol::plugin
