#include "plugin/driver.h"

#include <cstring>
#include <string>
#include <thread>
#include <utility>

namespace rbdvol::plugin {

Result<uint64_t> DataStream::read_full(void* buf, uint64_t len) {
  if (!read_) return Status::Invalid("this operation reads data: the call gave no read function");
  uint64_t got = 0;
  while (got < len) {
    const int64_t n = read_(read_ctx_, static_cast<char*>(buf) + got, len - got);
    if (n == 0) break;
    if (n < 0) {
      const int err = static_cast<int>(-n);
      return Status::Error(err, "reading the request's data failed: " + std::string(strerror(err)));
    }
    if (static_cast<uint64_t>(n) > len - got) {
      return Status::Invalid("the read function returned " + std::to_string(n) +
                             " bytes for a buffer of " + std::to_string(len - got));
    }
    got += static_cast<uint64_t>(n);
  }
  return got;
}

Status DataStream::write(const void* buf, uint64_t len) {
  if (!write_)
    return Status::Invalid("this operation writes data: the call gave no write function");
  const int r = write_(write_ctx_, buf, len);
  if (r < 0) {
    return Status::Error(-r, "writing the answer's data failed: " + std::string(strerror(-r)));
  }
  return Status::Ok();
}

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
