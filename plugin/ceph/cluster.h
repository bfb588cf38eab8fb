// One backend's Ceph cluster: a lazily opened librados connection and the
// questions rbdvol asks of the cluster itself (monitors, capacity).
#pragma once

#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "plugin/ceph/env.h"
#include "status/status.h"

namespace rbdvol::plugin {

struct MonitorAddress {
  std::string host;
  std::string port;
};

struct ClusterCapacity {
  uint64_t total_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t free_bytes = 0;
};

// Runs a monitor command that answers JSON (through a connection or any
// pool of the cluster); errors name the command.
Result<nlohmann::json> mon_command_json(Connection& cluster, const std::string& command);
Result<nlohmann::json> mon_command_json(Pool& pool, const std::string& command);

using PoolPtr = std::unique_ptr<Pool>;
using ImagePtr = std::unique_ptr<RbdImage>;

class Cluster {
 public:
  // Reaches the cluster through `env`, which outlives it.
  Cluster(Env& env, config::Backend backend, int connect_timeout_seconds,
          int osd_op_timeout_seconds);
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  const config::Backend& backend() const { return backend_; }
  const std::string& id() const { return backend_.id; }

  // Connects on first use and keeps the connection. A cluster that does not
  // answer within the connect timeout gives ETIMEDOUT (or librados' errno);
  // the next call tries again. Safe from several threads.
  Result<Connection*> connect();

  // An I/O context on `pool` of this cluster. ENOENT names pool and backend.
  Result<PoolPtr> open_pool(const std::string& pool);
  Result<PoolPtr> open_volume_pool() { return open_pool(backend_.volume_pool); }
  Result<PoolPtr> open_image_pool() { return open_pool(backend_.image_pool); }

  // The monitors' addresses as clients reach them (the msgr v1 address when
  // a monitor has one, as QEMU's librbd is given them by libvirt).
  Result<std::vector<MonitorAddress>> monitors();

  Result<ClusterCapacity> capacity();

  // "backend fast (/etc/ceph/fast.conf)": how messages name this cluster.
  std::string describe() const;

 private:
  Env& env_;
  config::Backend backend_;
  int connect_timeout_seconds_;
  int osd_op_timeout_seconds_;
  std::mutex mu_;
  std::unique_ptr<Connection> connection_;  // guarded by mu_ until set; never reset once set
};

}  // namespace rbdvol::plugin
