// A driver over two in-memory clusters, "fast" (media:ssd) and "capacity"
// (media:hdd), each with pools `volumes` and `images`, for the plugin's
// operation tests (memory_env.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/driver.h"
#include "plugin/ops/operations.h"
#include "tests/unit/memory_env.h"

namespace rbdvol::plugin::testing {

inline const std::string kFast = "/memory/fast.conf";
inline const std::string kCapacity = "/memory/capacity.conf";

class PluginTest {
 public:
  // `defaults`: more lines for the config's [DEFAULT] section.
  explicit PluginTest(const std::string& defaults = "");
  ~PluginTest();

  // Runs an operation; the test sees its answer or its error.
  Result<Json> run(Operation op, const Json& request);
  // The same, for one that must succeed (REQUIREd).
  Json ok(Operation op, const Json& request);
  // Runs an operation by name through the operation table, as a host calls
  // it (abi/operation_table.h): with its directory update after it.
  Result<Json> call(const std::string& op, const Json& request);
  Json call_ok(const std::string& op, const Json& request);
  // A driver with the same config over the same clusters, whose connections
  // are clients of their own: what another rbdvol process is.
  std::unique_ptr<Driver> another_process();

  // A blank volume of `disk_type` (ssd: fast, hdd: capacity); its id.
  std::string volume(const std::string& disk_type = "ssd", const std::string& size = "8M");
  // An image uploaded from a file of `size` bytes (a pattern, with a hole)
  // into `backend`; its id.
  std::string image(const std::string& backend = "fast", uint64_t size = 12 << 20);
  // A file of `size` bytes holding a pattern, removed with the fixture.
  std::string file(uint64_t size);

  // Turns the complete image copy `image` (uuid) in `backend` into the
  // partial copy a killed upload or copy leaves: no rbdvol.complete, its
  // chunk record "incomplete" and owned by a process that is gone, whose
  // client (the record's `client`) still holds the image's lock.
  void make_dead_partial(const std::string& backend, const std::string& image);
  // The owner named in the chunk record of image `image` (uuid) in `backend`.
  std::string record_owner(const std::string& backend, const std::string& image);

  std::vector<std::string> images(const std::string& conf, const std::string& pool) {
    return env.images(conf, pool);
  }
  // Objects of a pool besides the images' headers (chunk records, the
  // snapshot directory).
  std::vector<std::string> objects(const std::string& conf, const std::string& pool) {
    return env.objects(conf, pool);
  }

  // The kinds of a backend.check answer's findings, sorted.
  static std::vector<std::string> finding_kinds(const Json& check);

  MemoryEnv env;
  std::unique_ptr<Driver> driver;

 private:
  std::string dir_;
  std::string config_text_;
};

}  // namespace rbdvol::plugin::testing
