// The host side of the plugin ABI, shared by the rbdvol command and the
// rbdvold service: dlopen the plugin, check its ABI version before anything
// else, open a driver, call operations with JSON requests.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "include/rbdvol/driver.h"
#include "status/status.h"

namespace rbdvol::host {

class PluginHost {
 public:
  using ProgressFn = std::function<void(const char* stage, uint64_t done, uint64_t total)>;
  // The data of a streaming call (the ABI's rbdvol_read_fn and
  // rbdvol_write_fn): ReadFn fills up to `len` bytes of `buf` and returns the
  // count, 0 at the end, or -errno; WriteFn takes `len` bytes and returns 0
  // or -errno. Called on the calling thread, one call at a time.
  using ReadFn = std::function<int64_t(void* buf, uint64_t len)>;
  using WriteFn = std::function<int(const void* buf, uint64_t len)>;

  // Loads the plugin at `path` and checks its ABI version and table size. A
  // version mismatch is refused (EPROTO) with a message naming both versions;
  // a table shorter than RBDVOL_DRIVER_OPS_V1_SIZE (EPROTO) with both sizes;
  // any longer table is accepted. The library is unloaded on every failure.
  static Result<std::unique_ptr<PluginHost>> load(const std::string& path);
  ~PluginHost();
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Opens the driver with the config file at `config_path`.
  Status open(const std::string& config_path);
  // Opens it without a config: only the operations that need no backend run.
  Status open_without_config();

  // Runs `op`; the answer, or the driver's errno and message.
  Result<nlohmann::json> call(const std::string& op, const nlohmann::json& request,
                              const ProgressFn& progress = nullptr);

  // Runs `op` through the table's call_stream with `read` and/or `write`
  // (either may be empty when the operation does not use it). EOPNOTSUPP,
  // naming the plugin, when its table is too short to have call_stream (a
  // plugin built before it). An exception thrown by `read` or `write` is
  // caught at the ABI's edge and fails the call with EIO.
  Result<nlohmann::json> call_stream(const std::string& op, const nlohmann::json& request,
                                     const ReadFn& read, const WriteFn& write,
                                     const ProgressFn& progress = nullptr);
  // Whether the plugin's table has call_stream.
  bool has_call_stream() const;

  const std::string& path() const { return path_; }

 private:
  Status open_driver(const char* config_path);  // nullptr: without a config
  // The answer of a call: the driver's return value, answer and message.
  Result<nlohmann::json> answer_of(const std::string& op, int r, char* answer, char* err);
  PluginHost(void* handle, const rbdvol_driver_ops* ops, std::string path)
      : handle_(handle), ops_(ops), path_(std::move(path)) {}

  void* handle_;
  const rbdvol_driver_ops* ops_;
  std::string path_;
  rbdvol_driver* driver_ = nullptr;
};

// `file` beside the running executable, else in its ../lib/rbdvol (where
// cmake --install and the Debian package put the plugin and the libvirt
// module: /usr/bin/../lib/rbdvol), else in its ../lib (the build tree), else
// `file` alone, for dlopen to search the library path.
std::string find_beside_executable(const std::string& file);

// Where the plugin is: `explicit_path` when given, else $RBDVOL_DRIVER, else
// find_beside_executable("librbdvol_rbd.so").
std::string find_plugin(const std::string& explicit_path);

}  // namespace rbdvol::host
