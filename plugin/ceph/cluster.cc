#include "plugin/ceph/cluster.h"

#include "text/monitor_address.h"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>

namespace rbdvol::plugin {

Cluster::Cluster(Env& env, config::Backend backend, int connect_timeout_seconds,
                 int osd_op_timeout_seconds)
    : env_(env),
      backend_(std::move(backend)),
      connect_timeout_seconds_(connect_timeout_seconds),
      osd_op_timeout_seconds_(osd_op_timeout_seconds) {}

std::string Cluster::describe() const { return "backend " + backend_.id; }

Result<Connection*> Cluster::connect() {
  std::lock_guard<std::mutex> lock(mu_);
  if (connection_) return connection_.get();
  ConnectOptions options;
  options.connect_timeout_seconds = connect_timeout_seconds_;
  options.osd_op_timeout_seconds = osd_op_timeout_seconds_;
  ASSIGN_OR_RETURN(connection_, env_.connect(backend_, options));
  return connection_.get();
}

Result<PoolPtr> Cluster::open_pool(const std::string& pool) {
  ASSIGN_OR_RETURN(Connection * connection, connect());
  auto opened = connection->open_pool(pool);
  if (!opened.ok()) return opened.status().Prefixed(describe());
  return opened;
}

namespace {

Result<nlohmann::json> parse_mon_answer(const std::string& command, Result<std::string> answer) {
  if (!answer.ok()) return answer.status();
  try {
    return nlohmann::json::parse(*answer);
  } catch (const std::exception& e) {
    return Status::Error(EIO, "monitor command " + command + " answered no JSON: " + e.what());
  }
}

}  // namespace

Result<nlohmann::json> mon_command_json(Connection& cluster, const std::string& command) {
  return parse_mon_answer(command, cluster.mon_command(command));
}

Result<nlohmann::json> mon_command_json(Pool& pool, const std::string& command) {
  return parse_mon_answer(command, pool.mon_command(command));
}

Result<std::vector<MonitorAddress>> Cluster::monitors() {
  auto cluster = connect();
  if (!cluster.ok()) return cluster.status();
  auto dump = mon_command_json(**cluster, R"({"prefix": "mon dump", "format": "json"})");
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
  auto stat = (*cluster)->cluster_stat();
  if (!stat.ok()) return stat.status().Prefixed(describe());
  const ClusterStat& st = *stat;
  ClusterCapacity c;
  c.total_bytes = st.kb * 1024;
  c.used_bytes = st.kb_used * 1024;
  c.free_bytes = st.kb_avail * 1024;
  return c;
}

}  // namespace rbdvol::plugin
