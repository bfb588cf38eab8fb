#include "service/cinder/volume_service.h"

#include <openssl/sha.h>
#include <unistd.h>

#include <boost/asio/post.hpp>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <chrono>
#include <cstdio>

#include "service/http_server.h"

namespace rbdvol::service::cinder {
namespace {

std::string make_instance_id() {
  char host[256] = {0};
  if (gethostname(host, sizeof host - 1) != 0) std::snprintf(host, sizeof host, "unknown");
  std::string nonce = boost::uuids::to_string(boost::uuids::random_generator()()).substr(0, 8);
  return std::string(host) + ":" + std::to_string(getpid()) + ":" + nonce;
}

// The status a failed operation leaves, as Cinder's.
std::string failed_status(const std::string& op) {
  if (op == "delete") return "error_deleting";
  if (op == "volume.extend") return "error_extending";
  return "error";
}

}  // namespace

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Json VolumeActivity::to_json() const {
  return {{"status", status}, {"backend", backend}, {"op", op},       {"request", request},
          {"volume", volume}, {"message", message}, {"owner", owner}, {"heartbeat", heartbeat}};
}

VolumeActivity VolumeActivity::from_json(const Json& j) {
  VolumeActivity a;
  if (!j.is_object()) return a;
  a.status = j.value("status", "");
  a.backend = j.value("backend", "");
  a.op = j.value("op", "");
  a.request = j.value("request", Json());
  a.volume = j.value("volume", Json());
  a.message = j.value("message", "");
  a.owner = j.value("owner", "");
  a.heartbeat = j.value("heartbeat", int64_t{0});
  return a;
}

VolumeService::VolumeService(host::PluginHost& plugin, config::Config config, size_t job_threads)
    : plugin_(plugin),
      config_(std::move(config)),
      instance_(make_instance_id()),
      jobs_(job_threads) {}

VolumeService::~VolumeService() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  jobs_.join();
}

Result<Json> VolumeService::call(const std::string& op, const Json& request) {
  return plugin_.call(op, request);
}

Result<Json> VolumeService::put(const std::string& volume_id, const VolumeActivity& activity,
                                const std::optional<Json>& expect) {
  Json request = {{"backend", activity.backend}, {"key", volume_id}};
  request["value"] = activity.status.empty() ? Json(nullptr) : activity.to_json();
  if (expect) request["expect"] = *expect;
  return call("journal.update", request);
}

Status VolumeService::start(const std::string& volume_id, VolumeActivity activity) {
  activity.owner = instance_;
  activity.heartbeat = now_seconds();
  auto put_it = put(volume_id, activity, Json(nullptr));
  if (!put_it.ok()) {
    if (put_it.status().err() == EBUSY) {
      auto now = this->activity(volume_id);
      std::string what = now.ok() && *now ? (*now)->status : "busy with another request";
      return Status::Invalid("volume " + volume_id + " is " + what +
                             "; try again once that is over");
    }
    return put_it.status();
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    owned_[volume_id] = activity;
  }
  run(volume_id, std::move(activity), false);
  return Status::Ok();
}

void VolumeService::run(const std::string& volume_id, VolumeActivity activity, bool resumed) {
  ++busy_;
  boost::asio::post(jobs_, [this, volume_id, activity = std::move(activity), resumed] {
    Status outcome;
    try {
      if (activity.op == "create") {
        bool done = false;
        if (resumed) {
          // The instance that began it died: finish or undo what it left.
          auto record = call("volume.show", {{"id", volume_id}});
          if (record.ok()) {
            done = true;
            if (record->value("disk_type", "").empty()) {
              auto removed = call("volume.delete", {{"id", volume_id}, {"cascade", true}});
              outcome = Status::Error(
                  EIO,
                  "the rbdvold instance " + activity.owner +
                      " stopped in the middle of creating it; what it left was " +
                      (removed.ok() ? "removed" : "not removed: " + removed.status().message()));
            }
          } else if (record.status().err() != ENOENT) {
            done = true;
            outcome = record.status();
          }
        }
        if (!done) {
          const Json create = activity.request.value("create", Json::object());
          auto made = call("volume.create", create);
          if (!made.ok() && resumed && made.status().err() == EEXIST && create.contains("image")) {
            // The dead instance left a partial copy of the image in the
            // backend: continue it (image.copy's resume), then clone it.
            auto copied =
                call("image.copy",
                     {{"id", create["image"]}, {"to", activity.backend}, {"resume", true}});
            if (copied.ok()) made = call("volume.create", create);
          }
          if (!made.ok()) outcome = made.status();
        }
        Json update = activity.request.value("update", Json::object());
        if (outcome.ok() && update.size() > 1) {
          auto updated = call("volume.update", update);
          if (!updated.ok()) outcome = updated.status();
        }
      } else if (activity.op == "delete") {
        auto r = call("volume.delete", activity.request);
        if (!r.ok()) outcome = r.status();
      } else {
        auto r = call(activity.op, activity.request);
        // A redone extend that finds the volume grown already is done.
        if (!r.ok() && !(resumed && activity.op == "volume.extend" && r.status().err() == EINVAL)) {
          outcome = r.status();
        }
      }
    } catch (const std::exception& e) {
      outcome = Status::Error(EIO, std::string("internal error: ") + e.what());
    }
    finish(volume_id, activity, outcome);
    --busy_;
  });
}

void VolumeService::finish(const std::string& volume_id, const VolumeActivity& activity,
                           const Status& outcome) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    owned_.erase(volume_id);
  }
  if (!outcome.ok()) {
    log_line(activity.op + " of volume " + volume_id +
             " failed: " + printable(outcome.message(), 1024));
  }
  VolumeActivity after = activity;
  if (outcome.ok()) {
    after.status.clear();  // the entry goes
  } else {
    after.status = failed_status(activity.op);
    after.message = outcome.message();
    after.owner.clear();
  }
  // Only while the entry is still ours: an instance that took it over when
  // this one looked dead decides now.
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto entry = call("journal.get", {{"key", volume_id}});
    if (!entry.ok()) break;
    Json current;
    for (const auto& e : entry->value("entries", Json::array())) {
      if (e.value("backend", "") == activity.backend) current = e["value"];
    }
    if (current.is_null() || VolumeActivity::from_json(current).owner != instance_) return;
    auto r = put(volume_id, after, current);
    if (r.ok()) return;
    if (r.status().err() != EBUSY) {
      log_line("cannot record the end of " + activity.op + " of volume " + volume_id + ": " +
               printable(r.status().message(), 512));
      return;
    }
  }
}

Result<std::optional<VolumeActivity>> VolumeService::activity(const std::string& volume_id) {
  ASSIGN_OR_RETURN(Json entry, call("journal.get", {{"key", volume_id}}));
  for (const auto& e : entry.value("entries", Json::array())) {
    return std::optional<VolumeActivity>(VolumeActivity::from_json(e["value"]));
  }
  return std::optional<VolumeActivity>();
}

Result<std::map<std::string, VolumeActivity>> VolumeService::activities() {
  ASSIGN_OR_RETURN(Json list, call("journal.list", Json::object()));
  std::map<std::string, VolumeActivity> out;
  for (const auto& e : list.value("entries", Json::array())) {
    out.emplace(e.value("key", ""), VolumeActivity::from_json(e["value"]));
  }
  return out;
}

Status VolumeService::clear(const std::string& volume_id, const VolumeActivity& activity) {
  VolumeActivity gone = activity;
  gone.status.clear();
  auto r = put(volume_id, gone, activity.to_json());
  return r.ok() || r.status().err() == EBUSY ? Status::Ok() : r.status();
}

void VolumeService::start_housekeeping() {
  housekeeper_ = std::thread([this] { housekeeping(); });
}

void VolumeService::housekeeping() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    renew_owned();
    take_over_orphans();
    lock.lock();
    wake_.wait_for(lock, std::chrono::seconds(kHeartbeatSeconds), [this] { return stopping_; });
  }
}

void VolumeService::renew_owned() {
  std::map<std::string, VolumeActivity> owned;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    owned = owned_;
  }
  for (const auto& [id, activity] : owned) {
    auto entry = call("journal.get", {{"key", id}});
    if (!entry.ok()) continue;
    for (const auto& e : entry->value("entries", Json::array())) {
      VolumeActivity current = VolumeActivity::from_json(e["value"]);
      if (current.owner != instance_ || current.failed()) continue;
      VolumeActivity renewed = current;
      renewed.heartbeat = now_seconds();
      (void)put(id, renewed, e["value"]);  // lost to a finish or a takeover: nothing to renew
    }
  }
}

void VolumeService::take_over_orphans() {
  auto list = call("journal.list", Json::object());
  if (!list.ok()) return;
  const int64_t now = now_seconds();
  for (const auto& e : list->value("entries", Json::array())) {
    VolumeActivity a = VolumeActivity::from_json(e["value"]);
    const std::string id = e.value("key", "");
    if (a.failed() || a.owner == instance_ || now - a.heartbeat < kOrphanSeconds) continue;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (stopping_) return;
    }
    VolumeActivity mine = a;
    mine.owner = instance_;
    mine.heartbeat = now;
    if (!put(id, mine, e["value"]).ok()) continue;  // another instance took it first
    log_line("taking over " + a.op + " of volume " + id + " from rbdvold instance " +
             printable(a.owner, 128) + ", silent for " + std::to_string(now - a.heartbeat) + " s");
    {
      std::lock_guard<std::mutex> lock(mutex_);
      owned_[id] = mine;
    }
    VolumeActivity resumed = mine;
    resumed.owner = a.owner;  // named in messages as the one that stopped
    run(id, resumed, true);
  }
}

Result<Json> body_object(const Call& call, const std::string& key) {
  if (!call.body.is_object()) {
    return Status::Invalid("the request body must be a JSON object {\"" + key + "\": {...}}");
  }
  auto it = call.body.find(key);
  if (it == call.body.end()) {
    return Status::Invalid("the request body has no '" + key + "' object");
  }
  if (!it->is_object()) return Status::Invalid("'" + key + "' must be a JSON object");
  return *it;
}

std::string stable_uuid(const std::string& text) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d);
  d[6] = static_cast<unsigned char>((d[6] & 0x0f) | 0x50);  // version 5 style
  d[8] = static_cast<unsigned char>((d[8] & 0x3f) | 0x80);
  char out[37];
  std::snprintf(out, sizeof out,
                "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0], d[1],
                d[2], d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14],
                d[15]);
  return out;
}

}  // namespace rbdvol::service::cinder
