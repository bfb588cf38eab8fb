// The driver behind the C ABI: the loaded config and one Cluster per enabled
// backend. The ABI (abi/) calls operations on it by name.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "plugin/ceph/cluster.h"
#include "status/status.h"

namespace rbdvol::plugin {

using Json = nlohmann::json;

// Reports progress to the host's callback, if it gave one. The callback has
// the shape of the ABI's rbdvol_progress_fn, which the core does not include.
class Progress {
 public:
  using Callback = void (*)(void* ctx, const char* stage, uint64_t done, uint64_t total);
  Progress() = default;
  Progress(Callback fn, void* ctx) : fn_(fn), ctx_(ctx) {}
  void operator()(const char* stage, uint64_t done, uint64_t total) const {
    if (fn_) fn_(ctx_, stage, done, total);
  }

 private:
  Callback fn_ = nullptr;
  void* ctx_ = nullptr;
};

// The data of a streaming call (the ABI's call_stream): the host's read and
// write callbacks, with the shapes of rbdvol_read_fn and rbdvol_write_fn,
// which the core does not include. Either may be absent.
class DataStream {
 public:
  using ReadCallback = int64_t (*)(void* ctx, void* buf, uint64_t len);
  using WriteCallback = int (*)(void* ctx, const void* buf, uint64_t len);
  DataStream() = default;
  DataStream(ReadCallback read, void* read_ctx, WriteCallback write, void* write_ctx)
      : read_(read), read_ctx_(read_ctx), write_(write), write_ctx_(write_ctx) {}

  bool can_read() const { return read_ != nullptr; }
  bool can_write() const { return write_ != nullptr; }
  // Fills `buf` with up to `len` bytes, calling the host's read until `len`
  // bytes came or it says the data ended: the bytes read (fewer than `len`
  // only at the end). The host's errno as it gave it; EINVAL for a count it
  // could not have read.
  Result<uint64_t> read_full(void* buf, uint64_t len);
  // Hands `len` bytes to the host's write; its errno as it gave it.
  Status write(const void* buf, uint64_t len);

 private:
  ReadCallback read_ = nullptr;
  void* read_ctx_ = nullptr;
  WriteCallback write_ = nullptr;
  void* write_ctx_ = nullptr;
};

class Driver {
 public:
  // Loads and validates the config; connects to no cluster yet. Reaches the
  // clusters through librados/librbd (ceph_env()).
  static Result<std::unique_ptr<Driver>> open(const std::string& config_path);
  // A driver over a loaded config that reaches its clusters through `env`
  // (which must outlive it): how unit tests run the operations over an
  // in-memory cluster.
  static std::unique_ptr<Driver> open_with_env(config::Config config, Env& env);
  // No config, no backends: only the operations that need none run.
  static std::unique_ptr<Driver> open_without_config();
  // Disconnects from every cluster at once: each librados shutdown waits for
  // its threads and its sessions to end (a few ms).
  ~Driver();

  const config::Config& config() const { return config_; }
  // nullptr when `backend_id` is not an enabled backend.
  Cluster* cluster(const std::string& backend_id);
  // The same, or ENOENT: "backend 'x' is not an enabled backend (enabled: ...)".
  Result<Cluster*> enabled_cluster(const std::string& backend_id);
  const std::vector<std::unique_ptr<Cluster>>& clusters() { return clusters_; }
  // The same as plain pointers (what fan_out takes): all of them, or only
  // backend `only` when it is not empty.
  std::vector<Cluster*> cluster_list(const std::string& only = "") {
    std::vector<Cluster*> out;
    for (const auto& c : clusters_) {
      if (only.empty() || c->id() == only) out.push_back(c.get());
    }
    return out;
  }

  // False for a driver opened without a config (open_without_config).
  bool configured() const { return configured_; }

 private:
  Driver(config::Config config, bool configured, Env& env);

  config::Config config_;
  bool configured_;
  std::vector<std::unique_ptr<Cluster>> clusters_;
};

}  // namespace rbdvol::plugin
