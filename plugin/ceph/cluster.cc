#include "plugin/ceph/cluster.h"

#include "config/keyring.h"
#include "text/monitor_address.h"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

namespace rbdvol::plugin {

Cluster::Cluster(config::Backend backend, int connect_timeout_seconds, int osd_op_timeout_seconds)
    : backend_(std::move(backend)),
      connect_timeout_seconds_(connect_timeout_seconds),
      osd_op_timeout_seconds_(osd_op_timeout_seconds) {}

std::string Cluster::describe() const { return "backend " + backend_.id; }

Result<rados_t> Cluster::connect() {
  std::lock_guard<std::mutex> lock(mu_);
  if (rados_) return rados_.get();

  rados_t raw = nullptr;
  std::string user = "client." + backend_.rbd_user;
  int r = rados_create2(&raw, "ceph", user.c_str(), 0);
  if (r < 0) {
    return Status::Error(r, describe() + ": cannot create a rados handle: " + ceph_strerror(r));
  }
  RadosPtr cluster(raw);
  r = rados_conf_read_file(raw, backend_.ceph_conf.c_str());
  if (r < 0) {
    return Status::Error(
        r, describe() + ": cannot read ceph_conf " + backend_.ceph_conf + ": " + ceph_strerror(r));
  }
  const std::string timeout = std::to_string(connect_timeout_seconds_);
  std::pair<const char*, std::string> settings[] = {
      {"client_mount_timeout", timeout},
      {"rados_mon_op_timeout", timeout},
      // An OSD that stops answering after the connect fails the operation
      // with ETIMEDOUT instead of leaving it waiting without bound.
      {"rados_osd_op_timeout", std::to_string(osd_op_timeout_seconds_)},
      {"log_to_stderr", "false"},
      {"err_to_stderr", "false"},
      {"log_file", ""},
      // This connection moves image data in bulk (the copy engine), never
      // guest I/O: librbd's cache would hold a second copy of every chunk
      // read or written, and its copy of each write buffer a third. The
      // engine keeps its buffers until librbd completes, so zero-copy writes
      // are safe. See "The copy engine" in docs/driver-abi.md.
      {"rbd_cache", "false"},
      {"rbd_disable_zero_copy_writes", "false"},
  };
  for (const auto& [key, value] : settings) {
    r = rados_conf_set(raw, key, value.c_str());
    if (r < 0) {
      return Status::Error(r, describe() + ": cannot set " + key + ": " + ceph_strerror(r));
    }
  }
  if (!backend_.keyring.empty()) {
    // librados would take a missing keyring, or a directory, for a cluster
    // that does not answer ("cannot connect ... within 10 s: No such file").
    Status usable = config::check_keyring_file(backend_.keyring);
    if (!usable.ok()) return usable.Prefixed(describe());
    r = rados_conf_set(raw, "keyring", backend_.keyring.c_str());
    if (r < 0) {
      return Status::Error(
          r, describe() + ": cannot use keyring " + backend_.keyring + ": " + ceph_strerror(r));
    }
  }
  r = rados_connect(raw);
  if (r < 0) {
    return Status::Error(r, describe() + ": cannot connect to the cluster of " +
                                backend_.ceph_conf + " within " + timeout +
                                " s: " + ceph_strerror(r));
  }
  rados_ = std::move(cluster);
  return rados_.get();
}

Result<IoCtxPtr> Cluster::open_pool(const std::string& pool) {
  auto cluster = connect();
  if (!cluster.ok()) return cluster.status();
  rados_ioctx_t io = nullptr;
  int r = rados_ioctx_create(*cluster, pool.c_str(), &io);
  if (r < 0) {
    return Status::Error(r, describe() + ": cannot open pool " + pool + ": " + ceph_strerror(r));
  }
  // A write to a full pool fails at once with ENOSPC or EDQUOT instead of
  // waiting for space without bound; deletes are still allowed there.
  rados_set_pool_full_try(io);
  return IoCtxPtr(io);
}

Result<nlohmann::json> mon_command_json(rados_t cluster, const std::string& command) {
  const char* cmd[] = {command.c_str()};
  char* out = nullptr;
  size_t out_len = 0;
  char* status = nullptr;
  size_t status_len = 0;
  int r = rados_mon_command(cluster, cmd, 1, "", 0, &out, &out_len, &status, &status_len);
  std::string answer(out ? out : "", out_len);
  std::string status_text(status ? status : "", status_len);
  rados_buffer_free(out);
  rados_buffer_free(status);
  if (r < 0) {
    return Status::Error(r, "monitor command " + command + " failed: " + ceph_strerror(r) +
                                (status_text.empty() ? "" : " (" + status_text + ")"));
  }
  try {
    return nlohmann::json::parse(answer);
  } catch (const std::exception& e) {
    return Status::Error(EIO, "monitor command " + command + " answered no JSON: " + e.what());
  }
}

namespace {}  // namespace

Result<std::vector<MonitorAddress>> Cluster::monitors() {
  auto cluster = connect();
  if (!cluster.ok()) return cluster.status();
  auto dump = mon_command_json(*cluster, R"({"prefix": "mon dump", "format": "json"})");
  if (!dump.ok()) return dump.status().Prefixed(describe());
  std::vector<MonitorAddress> result;
  try {
    for (const auto& mon : dump->at("mons")) {
      std::string chosen;
      if (mon.contains("public_addrs")) {
        for (const auto& a : mon["public_addrs"].at("addrvec")) {
          if (a.value("type", "") == "v1") chosen = a.at("addr").get<std::string>();
          if (chosen.empty() && a.value("type", "") == "v2") {
            chosen = a.at("addr").get<std::string>();
          }
        }
      }
      if (chosen.empty()) chosen = mon.value("addr", "");
      if (chosen.empty()) continue;
      auto address = text::split_monitor_address(chosen);
      if (!address.ok()) return address.status().Prefixed(describe() + ": mon dump");
      result.push_back({address->host, address->port});
    }
  } catch (const std::exception& e) {
    return Status::Error(EIO, describe() + ": unexpected mon dump: " + e.what());
  }
  if (result.empty()) return Status::Error(EIO, describe() + ": mon dump lists no monitor");
  return result;
}

Result<ClusterCapacity> Cluster::capacity() {
  auto cluster = connect();
  if (!cluster.ok()) return cluster.status();
  rados_cluster_stat_t st{};
  int r = rados_cluster_stat(*cluster, &st);
  if (r < 0) {
    return Status::Error(r, describe() + ": cannot read cluster stats: " + ceph_strerror(r));
  }
  ClusterCapacity c;
  c.total_bytes = st.kb * 1024;
  c.used_bytes = st.kb_used * 1024;
  c.free_bytes = st.kb_avail * 1024;
  return c;
}

}  // namespace rbdvol::plugin
