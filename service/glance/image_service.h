// What the Glance handlers share: the plugin, the config, the image records
// and the background jobs (imports, copies).
//
// An image's record lives in the images journal of one backend (the
// plugin's journal.* operations with "journal": "images"; key: the image
// id), so that every rbdvold instance sees the same images and statuses:
//   {"image": {Glance's fields: id, name, status, disk_format, ..., tags,
//              and the custom properties},
//    "home": "<backend whose journal holds the record>",
//    "stores": ["<backend with a complete copy>", ...],
//    "importing": [...], "failed": [...],     (copy-image / import progress)
//    "job": {"kind": "upload"|"import"|"copy", "owner": "<instance>",
//            "heartbeat": <seconds>},           (while data moves)
//    "staged_on": "<instance>"}                 (a staged image's file)
// Every change is a compare-and-swap on the record (journal.update with
// "expect"), so two instances never both win. An instance renews the
// heartbeat of the jobs it runs; a job whose owner stopped renewing it is
// settled by any live instance (housekeeping): an upload goes back to
// queued (its partial data stays, listed by `rbdvol image partials`), an
// import back to uploading or queued, a copy to failed stores.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
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
#include "status/status.h"

namespace rbdvol::service::glance {

using Json = nlohmann::json;

class ImageService {
 public:
  ImageService(host::PluginHost& plugin, config::Config config, std::string instance,
               size_t job_threads);
  ~ImageService();

  Result<Json> call(const std::string& op, const Json& request);
  // A plugin operation that reads the request's data from `read` or writes
  // the answer's data to `write` (PluginHost::call_stream).
  Result<Json> call_stream(const std::string& op, const Json& request,
                           const host::PluginHost::ReadFn& read,
                           const host::PluginHost::WriteFn& write);

  // The record of image `id`: ENOENT when no backend has it; the first
  // unreachable backend's error when none that answered has it and some
  // did not answer.
  Result<Json> get(const std::string& id);
  // Every record, and the errors of the backends that did not answer.
  Result<std::vector<Json>> list(std::vector<std::string>* unreachable);
  // Writes `record` (null removes `id`'s) if the stored one still equals
  // `expect` (null: absent): EBUSY when it changed.
  Status put(const std::string& id, const std::string& home, const Json& record,
             const Json& expect);
  // Reads the record, lets `change` alter it (an error leaves it as it is),
  // writes it if nobody changed it in between, else tries again (10 times,
  // then EAGAIN). Returns the record written.
  Result<Json> update(const std::string& id, const std::function<Status(Json& record)>& change);

  // Runs `work` on a job thread; `id`'s job heartbeat is renewed while it
  // runs. The work must settle the record itself.
  void run_job(const std::string& id, std::function<void()> work);
  // A job record for this instance, now.
  Json job(const std::string& kind) const;

  // While it lives, this instance renews the heartbeat of `id`'s job (an
  // upload running in a request's own thread).
  class Held {
   public:
    Held(ImageService& images, std::string id);
    ~Held();
    Held(const Held&) = delete;
    Held& operator=(const Held&) = delete;

   private:
    ImageService& images_;
    std::string id_;
  };

  // Starts the thread that renews this instance's jobs and settles the
  // jobs of instances that stopped.
  void start_housekeeping();
  // One pass of it (tests): settles every record whose job's owner has not
  // renewed it for `orphan_seconds`.
  void settle_orphans(int64_t orphan_seconds);

  size_t busy() const { return busy_; }
  const std::string& instance() const { return instance_; }
  const config::Config& config() const { return config_; }
  // The backend a record with no data yet goes to (the default backend).
  std::string default_store() const;

  static constexpr int kHeartbeatSeconds = 5;
  static constexpr int kOrphanSeconds = 20;

 private:
  void housekeeping();
  void renew_owned();
  void own(const std::string& id);
  void disown(const std::string& id);

  host::PluginHost& plugin_;
  const config::Config config_;
  const std::string instance_;
  boost::asio::thread_pool jobs_;
  std::atomic<size_t> busy_{0};

  std::mutex mutex_;
  std::map<std::string, int> owned_;  // image ids whose job runs here (count)
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread housekeeper_;
};

// Seconds since the epoch, and Glance's time format ("2026-12-05T17:00:00Z").
int64_t now_seconds();
std::string utc_now_text();

}  // namespace rbdvol::service::glance
