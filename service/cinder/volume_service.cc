#include "service/cinder/volume_service.h"

#include <openssl/sha.h>

#include <boost/asio/post.hpp>
#include <cstdio>

#include "service/http_server.h"

namespace rbdvol::service::cinder {

VolumeService::VolumeService(host::PluginHost& plugin, config::Config config, size_t job_threads)
    : plugin_(plugin), config_(std::move(config)), jobs_(job_threads) {}

VolumeService::~VolumeService() { jobs_.join(); }

Result<Json> VolumeService::call(const std::string& op, const Json& request) {
  return plugin_.call(op, request);
}

void VolumeService::run_job(std::function<void()> job) {
  ++busy_;
  boost::asio::post(jobs_, [this, job = std::move(job)] {
    try {
      job();
    } catch (const std::exception& e) {
      log_line(std::string("background job failed: ") + printable(e.what()));
    }
    --busy_;
  });
}

std::optional<VolumeActivity> VolumeService::activity(const std::string& volume_id) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = activities_.find(volume_id);
  if (it == activities_.end()) return std::nullopt;
  return it->second;
}

std::map<std::string, VolumeActivity> VolumeService::activities() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return activities_;
}

void VolumeService::set_activity(const std::string& volume_id, VolumeActivity activity) {
  std::lock_guard<std::mutex> lock(mutex_);
  activities_[volume_id] = std::move(activity);
}

void VolumeService::clear_activity(const std::string& volume_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  activities_.erase(volume_id);
}

bool VolumeService::begin_activity(const std::string& volume_id, const std::string& status) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = activities_.find(volume_id);
  if (it != activities_.end()) return false;
  activities_[volume_id] = VolumeActivity{status, Json(), ""};
  return true;
}

ApiResponse json_response(int status, const Json& body) {
  ApiResponse response;
  response.status = status;
  response.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
  return response;
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
