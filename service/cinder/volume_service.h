// What the Cinder handlers share: the plugin, the config, the pool of
// background jobs and the statuses of the long operations running.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "host/plugin_host.h"
#include "service/api_request.h"
#include "service/cinder/microversion.h"
#include "status/status.h"

namespace rbdvol::service::cinder {

using Json = nlohmann::json;

// A volume's status while a long operation runs on it, or after one failed.
// Kept by this process only: another instance or a restart does not see it
// (issue 18's state in Ceph is not done yet; docs/rest-api.md says so).
struct VolumeActivity {
  std::string status;   // creating, error, deleting, error_deleting, extending, retyping, reverting
  Json volume;          // for creating/error of a create: the volume as requested (Cinder's view)
  std::string message;  // why it failed
};

class VolumeService {
 public:
  VolumeService(host::PluginHost& plugin, config::Config config, size_t job_threads);
  ~VolumeService();

  // A plugin operation; its errors as the plugin gave them.
  Result<Json> call(const std::string& op, const Json& request);

  // Runs `job` on the background pool. `busy()` counts jobs not finished.
  void run_job(std::function<void()> job);
  size_t busy() const { return busy_; }

  // The activity of a volume, if any.
  std::optional<VolumeActivity> activity(const std::string& volume_id) const;
  std::map<std::string, VolumeActivity> activities() const;
  void set_activity(const std::string& volume_id, VolumeActivity activity);
  void clear_activity(const std::string& volume_id);
  // Sets `status` unless the volume already has an activity: false then.
  bool begin_activity(const std::string& volume_id, const std::string& status);

  const config::Config& config() const { return config_; }

 private:
  host::PluginHost& plugin_;
  const config::Config config_;
  boost::asio::thread_pool jobs_;
  std::atomic<size_t> busy_{0};
  mutable std::mutex mutex_;
  std::map<std::string, VolumeActivity> activities_;
};

// One API call as a handler sees it.
struct Call {
  ApiRequest& request;
  Microversion version;
  std::string project_id;         // from the URL, x-project-id, or "admin"
  std::string prefix;             // "/v3/<project>" or "/v3", for links
  std::vector<std::string> rest;  // the segments after the prefix
  Json body;                      // the parsed JSON body (null when none)
};

using Handler = Result<ApiResponse> (*)(VolumeService&, Call&);

// An answer of `status` with a JSON body.
ApiResponse json_response(int status, const Json& body);

// The body's object `key` ({"volume": {...}}), or EINVAL naming what is missing.
Result<Json> body_object(const Call& call, const std::string& key);

// A uuid made from `text` (SHA-256 based): stable ids for things the
// plugin names otherwise (disk types, attachments).
std::string stable_uuid(const std::string& text);

}  // namespace rbdvol::service::cinder
