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

  const std::string& path() const { return path_; }

 private:
  Status open_driver(const char* config_path);  // nullptr: without a config
  PluginHost(void* handle, const rbdvol_driver_ops* ops, std::string path)
      : handle_(handle), ops_(ops), path_(std::move(path)) {}

  void* handle_;
  const rbdvol_driver_ops* ops_;
  std::string path_;
  rbdvol_driver* driver_ = nullptr;
};

// `file` beside the running executable (or in ../lib of it), else `file`
// alone, for dlopen to search the library path.
std::string find_beside_executable(const std::string& file);

// Where the plugin is: `explicit_path` when given, else $RBDVOL_DRIVER, else
// find_beside_executable("librbdvol_rbd.so").
std::string find_plugin(const std::string& explicit_path);

}  // namespace rbdvol::host
