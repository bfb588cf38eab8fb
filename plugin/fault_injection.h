// A test hook in the manner of leveldb's fault-injecting Env: when the
// environment variable RBDVOL_FAULT names `point` (or a comma list holds it),
// inject_fault(point) returns EIO, so a test can make an operation fail half
// way against a real cluster and check that nothing was left behind. Off
// (one getenv) in normal use. The points are listed in docs/driver-abi.md.
#pragma once

#include <cstdlib>
#include <cstring>
#include <string>

#include "status/status.h"

namespace rbdvol::plugin {

inline Status inject_fault(const char* point) {
  const char* env = std::getenv("RBDVOL_FAULT");
  if (!env || !*env) return Status::Ok();
  const std::string list = std::string(",") + env + ",";
  if (list.find(std::string(",") + point + ",") == std::string::npos) return Status::Ok();
  return Status::Error(EIO, std::string("injected fault at ") + point + " (RBDVOL_FAULT)");
}

}  // namespace rbdvol::plugin
