#include "plugin/driver.h"

#include <thread>
#include <utility>

namespace rbdvol::plugin {

Result<std::unique_ptr<Driver>> Driver::open(const std::string& config_path) {
  auto config = config::load_config_file(config_path);
  if (!config.ok()) return config.status();
  return std::unique_ptr<Driver>(new Driver(std::move(config).value(), true, ceph_env()));
}

std::unique_ptr<Driver> Driver::open_without_config() {
  return std::unique_ptr<Driver>(new Driver(config::Config(), false, ceph_env()));
}

std::unique_ptr<Driver> Driver::open_with_env(config::Config config, Env& env) {
  return std::unique_ptr<Driver>(new Driver(std::move(config), true, env));
}

Driver::Driver(config::Config config, bool configured, Env& env)
    : config_(std::move(config)), configured_(configured) {
  for (const auto& backend : config_.backends) {
    clusters_.push_back(std::make_unique<Cluster>(env, backend, config_.rados_connect_timeout,
                                                  config_.rados_osd_op_timeout));
  }
}

Driver::~Driver() {
  std::vector<std::thread> closing;
  for (auto& c : clusters_) closing.emplace_back([&c] { c.reset(); });
  for (auto& t : closing) t.join();
}

Cluster* Driver::cluster(const std::string& backend_id) {
  for (auto& c : clusters_) {
    if (c->id() == backend_id) return c.get();
  }
  return nullptr;
}

Result<Cluster*> Driver::enabled_cluster(const std::string& backend_id) {
  if (Cluster* c = cluster(backend_id)) return c;
  std::string enabled;
  for (auto& c : clusters_) enabled += (enabled.empty() ? "" : ", ") + c->id();
  return Status::NotFound("backend '" + backend_id +
                          "' is not an enabled backend (enabled: " + enabled + ")");
}

}  // namespace rbdvol::plugin
