// What the Cinder handlers share: the plugin, the config, the pool of
// background jobs, and the long operations running on volumes, kept in the
// backends' service journal (the plugin's journal.* operations) so that
// every rbdvold instance sees the same statuses, and a live instance
// finishes or fails what a dead one left.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/thread_pool.hpp>
#include <nlohmann/json.hpp>

#include "config/config.h"
#include "host/plugin_host.h"
#include "service/api_request.h"
#include "service/cinder/microversion.h"
#include "status/status.h"

namespace rbdvol::service::glance {
class ImageService;
}

namespace rbdvol::service::cinder {

using Json = nlohmann::json;

// A long operation on a volume, or the failure it left: one journal entry,
// key the volume id, in the journal of the volume's backend.
struct VolumeActivity {
  // creating, deleting, extending, retyping, reverting; error,
  // error_deleting, error_extending once failed
  std::string status;
  std::string backend;    // whose journal holds it
  std::string op;         // "create", "delete", "volume.extend", "volume.retype", "snapshot.revert"
  Json request;           // what to call to do (or redo) the work
  Json volume;            // for a create: the volume as requested (Cinder's view)
  std::string message;    // why it failed
  std::string owner;      // the instance doing it
  int64_t heartbeat = 0;  // when its owner last said it is alive (seconds since the epoch)

  bool failed() const { return status.rfind("error", 0) == 0; }
  Json to_json() const;
  static VolumeActivity from_json(const Json& j);
};

class VolumeService {
 public:
  VolumeService(host::PluginHost& plugin, config::Config config, size_t job_threads);
  ~VolumeService();

  // A plugin operation; its errors as the plugin gave them.
  Result<Json> call(const std::string& op, const Json& request);

  // Starts the thread that keeps this instance's journal entries alive and
  // takes over the entries of instances that stopped doing so.
  void start_housekeeping();

  // Records `activity` for `volume_id` (owned by this instance) if the
  // volume has none: EBUSY naming the one it has otherwise. Then does the
  // work in the background and records the outcome.
  Status start(const std::string& volume_id, VolumeActivity activity);

  // The activity of a volume, if any (EHOSTUNREACH and friends when the
  // journals cannot be read).
  Result<std::optional<VolumeActivity>> activity(const std::string& volume_id);
  Result<std::map<std::string, VolumeActivity>> activities();
  // Removes a volume's failed activity (a failed create being deleted, ...).
  Status clear(const std::string& volume_id, const VolumeActivity& activity);

  // The image service, for "upload to image" (null when rbdvold serves no
  // image API).
  void set_images(glance::ImageService* images) { images_ = images; }
  glance::ImageService* images() const { return images_; }

  // Background jobs not finished (shutdown waits for them).
  size_t busy() const { return busy_; }
  const std::string& instance() const { return instance_; }
  const config::Config& config() const { return config_; }

  // Seconds after which an entry whose owner stopped renewing it is taken over.
  static constexpr int kHeartbeatSeconds = 5;
  static constexpr int kOrphanSeconds = 20;

 private:
  void run(const std::string& volume_id, VolumeActivity activity, bool resumed);
  void finish(const std::string& volume_id, const VolumeActivity& activity, const Status& outcome);
  Result<Json> put(const std::string& volume_id, const VolumeActivity& activity,
                   const std::optional<Json>& expect);
  void housekeeping();
  void renew_owned();
  void take_over_orphans();

  host::PluginHost& plugin_;
  const config::Config config_;
  const std::string instance_;
  boost::asio::thread_pool jobs_;
  std::atomic<size_t> busy_{0};

  std::mutex mutex_;
  std::map<std::string, VolumeActivity> owned_;  // what this instance is doing
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread housekeeper_;
  glance::ImageService* images_ = nullptr;
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

// The body's object `key` ({"volume": {...}}), or EINVAL naming what is missing.
Result<Json> body_object(const Call& call, const std::string& key);

// A uuid made from `text` (SHA-256 based): stable ids for things the
// plugin names otherwise (disk types, attachments).
std::string stable_uuid(const std::string& text);

// Seconds since the epoch.
int64_t now_seconds();

}  // namespace rbdvol::service::cinder
