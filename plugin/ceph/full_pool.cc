#include "plugin/ceph/full_pool.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include <nlohmann/json.hpp>

#include "plugin/ceph/cluster.h"
#include "plugin/ceph/rbd_image.h"

namespace rbdvol::plugin {

namespace {

Result<nlohmann::json> mon_json(Pool& io, const std::string& command) {
  return mon_command_json(io, command);
}

std::string pool_name(Pool& io) { return io.name(); }

std::string mib(uint64_t bytes) {
  char out[32];
  std::snprintf(out, sizeof(out), "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return out;
}

}  // namespace

Result<PoolSpace> pool_space(Pool& io) {
  const std::string pool = pool_name(io);
  ASSIGN_OR_RETURN(auto dump, mon_json(io, R"({"prefix": "osd dump", "format": "json"})"));
  ASSIGN_OR_RETURN(auto df, mon_json(io, R"({"prefix": "df", "format": "json"})"));
  PoolSpace space;
  try {
    uint64_t quota = 0, used = 0;
    bool found = false;
    for (const auto& p : dump.at("pools")) {
      if (p.at("pool_name") != pool) continue;
      found = true;
      quota = p.value("quota_max_bytes", uint64_t{0});
      const std::string flags = "," + p.value("flags_names", std::string()) + ",";
      if (flags.find(",full_quota,") != std::string::npos) {
        space.full = true;
        space.why = "its quota of " + mib(quota) + " is reached";
      } else if (flags.find(",full,") != std::string::npos) {
        space.full = true;
        space.why = "an OSD of the cluster is full";
      }
    }
    if (!found) return Status::NotFound("pool " + pool + " is not in the OSD map");
    for (const auto& p : df.at("pools")) {
      if (p.at("name") != pool) continue;
      space.available = p.at("stats").at("max_avail").get<uint64_t>();
      used = p.at("stats").at("bytes_used").get<uint64_t>();
    }
    if (quota > 0) space.available = std::min(space.available, quota > used ? quota - used : 0);
    if (quota > 0 && !space.full && used >= quota) {
      space.full = true;
      space.why = "its quota of " + mib(quota) + " is reached";
    }
  } catch (const std::exception& e) {
    return Status::Error(EIO, "unexpected answer about pool " + pool + ": " + e.what());
  }
  if (space.full) space.available = 0;
  return space;
}

Status require_pool_space(Pool& io, uint64_t needed, const std::string& what) {
  ASSIGN_OR_RETURN(auto space, pool_space(io));
  if (space.full) {
    return Status::Error(ENOSPC, what + ": pool " + pool_name(io) + " is full (" + space.why +
                                     "): the cluster or pool is full");
  }
  if (needed > space.available) {
    return Status::Error(ENOSPC, what + " needs " + mib(needed) + " but pool " + pool_name(io) +
                                     " can take only " + mib(space.available) +
                                     " more: the cluster or pool is too full");
  }
  return Status::Ok();
}

Status remove_image_from_full_pool(Pool& io, const std::string& name, int wait_seconds) {
  const std::string spec = image_spec(io, name);
  {
    auto image = open_image(io, name, true);
    if (!image.ok()) return image.status().err() == ENOENT ? Status::Ok() : image.status();
    ASSIGN_OR_RETURN(auto info, (*image)->stat());
    for (uint64_t i = 0; i < info.num_objs; ++i) {
      char suffix[24];
      std::snprintf(suffix, sizeof(suffix), ".%016" PRIx64, i);
      const std::string object = info.block_name_prefix + suffix;
      Status s = io.remove(object);
      if (!s.ok() && s.err() != ENOENT) {
        return s.Prefixed("data object of " + spec + " in its full pool");
      }
    }
  }
  // The monitors clear the pool's full flag once the OSDs report the space
  // freed (a few seconds); librbd's removal needs that.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(wait_seconds);
  for (;;) {
    ASSIGN_OR_RETURN(auto space, pool_space(io));
    if (!space.full) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Error(ENOSPC, "the data of " + spec +
                                       " is removed, but its pool is still full (" + space.why +
                                       ") after " + std::to_string(wait_seconds) +
                                       " s; remove it again once there is room");
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  Status s = io.remove_image(name);
  if (!s.ok() && s.err() != ENOENT) return s;
  return Status::Ok();
}

}  // namespace rbdvol::plugin
