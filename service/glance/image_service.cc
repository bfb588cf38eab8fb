#include "service/glance/image_service.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <ctime>

#include "service/http_server.h"

namespace rbdvol::service::glance {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string utc_now_text() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

ImageService::ImageService(host::PluginHost& plugin, config::Config config, std::string instance,
                           size_t job_threads)
    : plugin_(plugin),
      config_(std::move(config)),
      instance_(std::move(instance)),
      jobs_(job_threads) {}

ImageService::~ImageService() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (housekeeper_.joinable()) housekeeper_.join();
  jobs_.join();
}

Result<Json> ImageService::call(const std::string& op, const Json& request) {
  return plugin_.call(op, request);
}

Result<Json> ImageService::call_stream(const std::string& op, const Json& request,
                                       const host::PluginHost::ReadFn& read,
                                       const host::PluginHost::WriteFn& write) {
  return plugin_.call_stream(op, request, read, write);
}

std::string ImageService::default_store() const {
  if (!config_.default_backend.empty()) return config_.default_backend;
  return config_.backends.empty() ? std::string() : config_.backends.front().id;
}

Result<Json> ImageService::get(const std::string& id) {
  ASSIGN_OR_RETURN(Json found, call("journal.get", {{"key", id}, {"journal", "images"}}));
  const Json entries = found.value("entries", Json::array());
  if (!entries.empty()) {
    Json record = entries.at(0).value("value", Json());
    record["home"] = entries.at(0).value("backend", "");
    return record;
  }
  const Json unreachable = found.value("unreachable", Json::array());
  if (!unreachable.empty()) {
    return Status::Error(EHOSTUNREACH, "image " + id +
                                           " not found in the backends that answered; " +
                                           unreachable.at(0).value("error", std::string()));
  }
  return Status::NotFound("no image with ID " + id);
}

Result<std::vector<Json>> ImageService::list(std::vector<std::string>* unreachable) {
  ASSIGN_OR_RETURN(Json found, call("journal.list", {{"journal", "images"}}));
  std::vector<Json> out;
  const Json entries = found.value("entries", Json::array());
  for (const auto& e : entries) {
    Json record = e.value("value", Json());
    if (!record.is_object() || !record.contains("image")) continue;
    record["home"] = e.value("backend", "");
    out.push_back(std::move(record));
  }
  const Json down = found.value("unreachable", Json::array());
  for (const auto& u : down) {
    if (unreachable) unreachable->push_back(u.value("error", std::string()));
  }
  return out;
}

Status ImageService::put(const std::string& id, const std::string& home, const Json& record,
                         const Json& expect) {
  auto stored = [](Json r) {
    if (r.is_object()) r.erase("home");
    return r;
  };
  auto done = call("journal.update", {{"journal", "images"},
                                      {"backend", home},
                                      {"key", id},
                                      {"value", stored(record)},
                                      {"expect", stored(expect)}});
  return done.ok() ? Status::Ok() : done.status();
}

Result<Json> ImageService::update(const std::string& id,
                                  const std::function<Status(Json& record)>& change) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    ASSIGN_OR_RETURN(Json current, get(id));
    Json next = current;
    RETURN_IF_ERROR(change(next));
    next["image"]["updated_at"] = utc_now_text();
    Status s = put(id, current.value("home", ""), next, current);
    if (s.ok()) return next;
    if (s.err() != EBUSY) return s;
  }
  return Status::Error(EAGAIN, "image " + id + " kept changing; try again");
}

Json ImageService::job(const std::string& kind) const {
  return {{"kind", kind}, {"owner", instance_}, {"heartbeat", now_seconds()}};
}

void ImageService::own(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++owned_[id];
}

void ImageService::disown(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (--owned_[id] <= 0) owned_.erase(id);
}

ImageService::Held::Held(ImageService& images, std::string id)
    : images_(images), id_(std::move(id)) {
  images_.own(id_);
}

ImageService::Held::~Held() { images_.disown(id_); }

void ImageService::run_job(const std::string& id, std::function<void()> work) {
  own(id);
  ++busy_;
  boost::asio::post(jobs_, [this, id, work = std::move(work)] {
    try {
      work();
    } catch (const std::exception& e) {
      log_line("image " + id + ": job failed: " + printable(e.what()));
    }
    disown(id);
    --busy_;
  });
}

void ImageService::start_housekeeping() {
  housekeeper_ = std::thread([this] { housekeeping(); });
}

void ImageService::housekeeping() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, std::chrono::seconds(kHeartbeatSeconds));
    if (stopping_) break;
    lock.unlock();
    renew_owned();
    settle_orphans(kOrphanSeconds);
    lock.lock();
  }
}

void ImageService::renew_owned() {
  std::vector<std::string> ids;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& [id, count] : owned_) ids.push_back(id);
  }
  for (const auto& id : ids) {
    auto renewed = update(id, [&](Json& r) -> Status {
      if (!r.contains("job") || r["job"].value("owner", "") != instance_) {
        return Status::Error(ECANCELED, "not ours");
      }
      r["job"]["heartbeat"] = now_seconds();
      return Status::Ok();
    });
    if (!renewed.ok() && renewed.status().err() != ECANCELED && renewed.status().err() != ENOENT) {
      log_line("image " + id + ": cannot renew its job: " + renewed.status().message());
    }
  }
}

void ImageService::settle_orphans(int64_t orphan_seconds) {
  std::vector<std::string> down;
  auto records = list(&down);
  if (!records.ok()) return;
  const int64_t now = now_seconds();
  for (const auto& record : *records) {
    if (!record.contains("job")) continue;
    const Json job = record["job"];
    const std::string owner = job.value("owner", "");
    if (owner == instance_) continue;
    if (now - job.value("heartbeat", int64_t{0}) < orphan_seconds) continue;
    const std::string id = record["image"].value("id", "");
    auto settled = update(id, [&](Json& r) -> Status {
      if (!r.contains("job") || r["job"] != job) return Status::Error(ECANCELED, "renewed");
      const std::string kind = job.value("kind", "");
      Json& image = r["image"];
      const std::string why = "the rbdvold instance " + owner + " stopped during the " + kind;
      if (kind == "upload") {
        image["status"] = "queued";
      } else if (kind == "volume") {
        image["status"] = "killed";
      } else {
        // import or copy: what was being imported failed.
        Json failed = r.value("failed", Json::array());
        const Json importing = r.value("importing", Json::array());
        for (const auto& s : importing) failed.push_back(s);
        r["failed"] = failed;
        r["importing"] = Json::array();
        if (image.value("status", "") == "importing") {
          image["status"] = r.contains("staged_on") ? "uploading" : "queued";
        }
      }
      r["message"] = why;
      r.erase("job");
      return Status::Ok();
    });
    if (settled.ok()) {
      log_line("image " + id + ": " + settled->value("message", std::string()) + "; now " +
               (*settled)["image"].value("status", std::string()));
    }
  }
}

}  // namespace rbdvol::service::glance
