#include "service/glance/image_transfer.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "service/glance/glance_api.h"
#include "service/glance/image_data.h"
#include "service/http_server.h"

namespace rbdvol::service::glance {
namespace {

// The byte ranges [first, end) being written through this process, per
// image: a PUT that overlaps one of them is refused rather than racing it
// for the same chunks. (Another instance's ranges in flight are not known
// here; a chunk written twice is recorded as its last write.)
class RangesInFlight {
 public:
  // Claims [first, end) of `id`: false, with the range it overlaps in
  // *other, when another write holds part of it.
  bool claim(const std::string& id, uint64_t first, uint64_t end,
             std::pair<uint64_t, uint64_t>* other) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto& held = ranges_[id];
    for (const auto& r : held) {
      if (first < r.second && r.first < end) {
        *other = r;
        return false;
      }
    }
    held.emplace_back(first, end);
    return true;
  }
  void release(const std::string& id, uint64_t first, uint64_t end) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = ranges_.find(id);
    if (it == ranges_.end()) return;
    auto& held = it->second;
    held.erase(std::remove(held.begin(), held.end(), std::make_pair(first, end)), held.end());
    if (held.empty()) ranges_.erase(it);
  }

 private:
  std::mutex mutex_;
  std::map<std::string, std::vector<std::pair<uint64_t, uint64_t>>> ranges_;
};

RangesInFlight& in_flight() {
  static RangesInFlight ranges;
  return ranges;
}

// Holds a claim for as long as it lives.
class Claim {
 public:
  Claim(std::string id, uint64_t first, uint64_t end)
      : id_(std::move(id)), first_(first), end_(end) {}
  ~Claim() { in_flight().release(id_, first_, end_); }
  Claim(const Claim&) = delete;
  Claim& operator=(const Claim&) = delete;

 private:
  std::string id_;
  uint64_t first_, end_;
};

std::string range_text(uint64_t first, uint64_t end) {
  return "[" + std::to_string(first) + ", " + std::to_string(end) + ")";
}

// A non-negative integer field of a request body; 0 when absent and optional.
Result<uint64_t> positive_field(const Json& body, const std::string& name, bool required) {
  if (!body.contains(name)) {
    if (required) return Status::Invalid("'" + name + "' is required");
    return uint64_t{0};
  }
  const Json& v = body[name];
  if (!v.is_number_integer()) return Status::Invalid("'" + name + "' must be an integer");
  if (!v.is_number_unsigned() && v.get<int64_t>() < 0) {
    return Status::Invalid("'" + name + "' must not be negative");
  }
  return v.get<uint64_t>();
}

// The record of `id` with its transfer: 404 when it has none.
Result<Json> with_transfer(ImageService& images, const std::string& id) {
  ASSIGN_OR_RETURN(Json record, images.get(id));
  if (!record.contains("transfer") || !record["transfer"].is_object()) {
    return Status::NotFound("image " + id + " has no transfer (status " +
                            record["image"].value("status", std::string()) + "); POST /v2/images/" +
                            id + "/transfer begins one");
  }
  return record;
}

std::string store_of(const Json& record) { return record["transfer"].value("store", ""); }

// The transfer as the API shows it, from the record and the plugin's status.
Result<Json> transfer_view(ImageService& images, const Json& record) {
  const std::string id = record["image"].value("id", "");
  const Json& t = record["transfer"];
  auto status = images.call("image.transfer_status", {{"id", id}, {"backend", store_of(record)}});
  if (!status.ok() && status.status().err() == ENOENT) {
    return Status::Busy("the transfer of image " + id + " is being begun; ask again");
  }
  if (!status.ok()) return status.status();
  return Json{{"image_id", id},
              {"store", store_of(record)},
              {"size", t.value("size", uint64_t{0})},
              {"chunk_size", status->value("chunk_size", uint64_t{0})},
              {"confirmed", status->value("confirmed", Json::array())},
              {"missing_bytes", status->value("missing_bytes", uint64_t{0})},
              {"writing", status->value("writing", false)},
              {"status", record["image"].value("status", "")}};
}

ApiResponse range_not_satisfiable(const std::string& message, uint64_t size) {
  ApiResponse r = glance_error(416, message);
  r.headers["Content-Range"] = "bytes */" + std::to_string(size);
  return r;
}

// Whether [first, end) meets a confirmed range of `view`: its text.
std::string confirmed_overlap(const Json& view, uint64_t first, uint64_t end) {
  for (const auto& r : view.value("confirmed", Json::array())) {
    if (!r.is_array() || r.size() != 2) continue;
    const uint64_t off = r[0].get<uint64_t>(), len = r[1].get<uint64_t>();
    if (first < off + len && off < end) {
      return range_text(std::max(first, off), std::min(end, off + len));
    }
  }
  return "";
}

}  // namespace

Result<ContentRange> parse_content_range(const std::string& header) {
  if (header.empty()) {
    return Status::Invalid(
        "a transfer's data needs Content-Range: bytes FIRST-LAST/SIZE (docs/rest-api.md)");
  }
  const std::string prefix = "bytes ";
  if (header.compare(0, prefix.size(), prefix) != 0) {
    return Status::Invalid("Content-Range must be bytes FIRST-LAST/SIZE");
  }
  const std::string spec = header.substr(prefix.size());
  const size_t dash = spec.find('-'), slash = spec.find('/');
  if (dash == std::string::npos || slash == std::string::npos || slash < dash) {
    return Status::Invalid("Content-Range must be bytes FIRST-LAST/SIZE");
  }
  auto number = [](const std::string& s, const char* what, uint64_t* out) -> Status {
    if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) {
      return Status::Invalid(std::string("Content-Range: ") + what +
                             " must be a decimal number of at most 19 digits");
    }
    *out = std::stoull(s);
    return Status::Ok();
  };
  ContentRange r;
  RETURN_IF_ERROR(number(spec.substr(0, dash), "FIRST", &r.first));
  RETURN_IF_ERROR(number(spec.substr(dash + 1, slash - dash - 1), "LAST", &r.last));
  RETURN_IF_ERROR(number(spec.substr(slash + 1), "SIZE", &r.size));
  if (r.last < r.first) return Status::Invalid("Content-Range: LAST is before FIRST");
  return r;
}

Result<ApiResponse> transfer_begin(ImageService& images, const ApiRequest& request,
                                   const std::string& id, const Json& body) {
  if (!body.is_object()) {
    return Status::Invalid(
        "the body must be a JSON object with 'size' (and 'store', 'chunk_size')");
  }
  for (const auto& [key, value] : body.items()) {
    if (key != "size" && key != "store" && key != "chunk_size") {
      return Status::Invalid("unknown field '" + printable(key, 64) +
                             "': a transfer takes size, store, chunk_size");
    }
  }
  ASSIGN_OR_RETURN(uint64_t size, positive_field(body, "size", true));
  if (size == 0) return Status::Invalid("'size' must be at least 1");
  const uint64_t cap = images.config().service.image_size_cap;
  if (size > cap) {
    return Status::Error(EFBIG, "a transfer of " + std::to_string(size) +
                                    " bytes is larger than image_size_cap (" + std::to_string(cap) +
                                    ")");
  }
  ASSIGN_OR_RETURN(uint64_t chunk_size, positive_field(body, "chunk_size", false));
  std::string named;
  if (body.contains("store")) {
    if (!body["store"].is_string()) return Status::Invalid("'store' must be a string");
    named = body["store"].get<std::string>();
  } else {
    named = request.header("x-image-meta-store");
  }
  ASSIGN_OR_RETURN(Json record, images.get(id));
  std::string store = named.empty() ? record.value("store", images.default_store()) : named;
  if (!images.config().find_backend(store)) {
    return Status::Invalid("store '" + printable(store, 64) + "' is not a known store");
  }
  const Json& image = record["image"];
  const std::string status = image.value("status", "");
  if (status == "saving" && record.contains("transfer")) {
    const Json& t = record["transfer"];
    if (t.value("size", uint64_t{0}) != size) {
      return Status::Busy("image " + id + " has a transfer of " +
                          std::to_string(t.value("size", uint64_t{0})) + " bytes, not " +
                          std::to_string(size) + "; abandon it (DELETE .../transfer) first");
    }
    if (!named.empty() && named != store_of(record)) {
      return Status::Busy("image " + id + "'s transfer goes to store " + store_of(record) +
                          ", not " + printable(named, 64));
    }
    ASSIGN_OR_RETURN(Json view, transfer_view(images, record));
    return json_response(200, view);
  }
  if (status != "queued") {
    return Status::Busy("image " + id + " is " + status + "; a transfer begins on a queued image");
  }
  if (image.value("disk_format", Json()) != "raw" ||
      image.value("container_format", Json()) != "bare") {
    return Status::Invalid(
        "a transfer takes raw data: set disk_format raw and container_format bare first (a qcow2 "
        "is uploaded whole with PUT .../file, and converted)");
  }
  ASSIGN_OR_RETURN(Json saving, images.update(id, [&](Json& rec) -> Status {
    const std::string now = rec["image"].value("status", "");
    if (now != "queued") {
      return Status::Busy("image " + id + " is " + now + "; a transfer begins on a queued image");
    }
    rec["image"]["status"] = "saving";
    rec["transfer"] = {{"store", store}, {"size", size}, {"chunk_size", chunk_size}};
    rec.erase("message");
    return Status::Ok();
  }));
  auto begun = begin_transfer(images, id, store, size, chunk_size);
  auto recorded = images.update(id, [&](Json& rec) -> Status {
    if (!begun.ok()) {
      rec["image"]["status"] = "queued";
      rec.erase("transfer");
      rec["message"] = begun.status().message();
    } else {
      rec["transfer"]["chunk_size"] = begun->value("chunk_size", uint64_t{0});
    }
    return Status::Ok();
  });
  if (!begun.ok()) return begun.status();
  if (!recorded.ok()) {
    (void)images.call("image.delete", {{"id", id}, {"backend", store}});
    if (recorded.status().err() == ENOENT) {
      return Status::Error(ESTALE, "image " + id + " was deleted while its transfer began");
    }
    return recorded.status();
  }
  ASSIGN_OR_RETURN(Json view, transfer_view(images, *recorded));
  ApiResponse r = json_response(201, view);
  r.headers["Location"] = "/v2/images/" + id + "/transfer";
  return r;
}

Result<ApiResponse> transfer_show(ImageService& images, const std::string& id) {
  ASSIGN_OR_RETURN(Json record, with_transfer(images, id));
  ASSIGN_OR_RETURN(Json view, transfer_view(images, record));
  return json_response(200, view);
}

Result<ApiResponse> transfer_write(ImageService& images, ApiRequest& request,
                                   const std::string& id) {
  ASSIGN_OR_RETURN(Json record, with_transfer(images, id));
  const Json& t = record["transfer"];
  const uint64_t size = t.value("size", uint64_t{0});
  const uint64_t chunk = t.value("chunk_size", uint64_t{0});
  if (chunk == 0) return Status::Busy("the transfer of image " + id + " is being begun; retry");
  ASSIGN_OR_RETURN(ContentRange range, parse_content_range(request.header("content-range")));
  if (range.size != size) {
    return range_not_satisfiable("Content-Range says the image has " + std::to_string(range.size) +
                                     " bytes; its transfer has " + std::to_string(size),
                                 size);
  }
  if (range.last >= size) {
    return range_not_satisfiable(
        "Content-Range ends at byte " + std::to_string(range.last) + ", past the image's end",
        size);
  }
  const uint64_t end = range.last + 1;
  if (range.first % chunk != 0 || (end % chunk != 0 && end != size)) {
    return Status::Invalid("Content-Range " + range_text(range.first, end) +
                           " is not aligned to the transfer's chunk size " + std::to_string(chunk) +
                           " (only the image's end may fall inside one)");
  }
  if (!request.content_length) {
    return Status::Invalid("a range needs a Content-Length (a chunked body is not accepted)");
  }
  if (*request.content_length != range.length()) {
    return Status::Invalid("Content-Length " + std::to_string(*request.content_length) +
                           " is not the length of Content-Range " + range_text(range.first, end) +
                           " (" + std::to_string(range.length()) + ")");
  }
  std::pair<uint64_t, uint64_t> other;
  if (!in_flight().claim(id, range.first, end, &other)) {
    return Status::Busy("bytes " + range_text(range.first, end) + " of image " + id + " overlap " +
                        range_text(other.first, other.second) +
                        ", which another connection is writing");
  }
  Claim claim(id, range.first, end);
  ASSIGN_OR_RETURN(Json view, transfer_view(images, record));
  const std::string overlap = confirmed_overlap(view, range.first, end);
  if (!overlap.empty()) {
    return Status::Busy("bytes " + overlap + " of image " + id +
                        " are confirmed already; send only what GET .../transfer shows missing");
  }
  uint64_t remaining = range.length(), got = 0;
  int read_error = 0;
  host::PluginHost::ReadFn reader = [&](void* buf, uint64_t len) -> int64_t {
    if (remaining == 0) return 0;
    int64_t n = request.read_body(static_cast<char*>(buf), std::min(len, remaining));
    if (n == 0) n = -EPIPE;
    if (n < 0) {
      read_error = static_cast<int>(-n);
      return n;
    }
    remaining -= static_cast<uint64_t>(n);
    got += static_cast<uint64_t>(n);
    return n;
  };
  auto written = images.call_stream(
      "image.write", {{"id", id}, {"backend", store_of(record)}, {"offset", range.first}}, reader,
      nullptr);
  if (read_error != 0) {
    return Status::Invalid("the body of range " + range_text(range.first, end) + " ended after " +
                           std::to_string(got) + " of its " + std::to_string(range.length()) +
                           " bytes (" + strerror(read_error) +
                           "); the chunks recorded stay confirmed (GET .../transfer)");
  }
  if (!written.ok()) return written.status();
  return json_response(200, {{"offset", range.first},
                             {"length", range.length()},
                             {"chunks", written->value("chunks", Json::array())},
                             {"chunks_zero", written->value("chunks_zero", 0)}});
}

Result<ApiResponse> transfer_zero(ImageService& images, const std::string& id, const Json& body) {
  if (!body.is_object()) return Status::Invalid("the body must be {\"offset\": N, \"length\": N}");
  ASSIGN_OR_RETURN(uint64_t offset, positive_field(body, "offset", true));
  ASSIGN_OR_RETURN(uint64_t length, positive_field(body, "length", true));
  if (length == 0) return Status::Invalid("'length' must be at least 1");
  ASSIGN_OR_RETURN(Json record, with_transfer(images, id));
  const uint64_t size = record["transfer"].value("size", uint64_t{0});
  if (offset >= size || length > size - offset) {
    return range_not_satisfiable(
        "the hole " + range_text(offset, offset + std::min(length, UINT64_MAX - offset)) +
            " goes past the image's end",
        size);
  }
  std::pair<uint64_t, uint64_t> other;
  if (!in_flight().claim(id, offset, offset + length, &other)) {
    return Status::Busy("bytes " + range_text(offset, offset + length) + " of image " + id +
                        " overlap " + range_text(other.first, other.second) +
                        ", which another connection is writing");
  }
  Claim claim(id, offset, offset + length);
  ASSIGN_OR_RETURN(Json zeroed, images.call("image.transfer_zero", {{"id", id},
                                                                    {"backend", store_of(record)},
                                                                    {"offset", offset},
                                                                    {"length", length}}));
  return json_response(
      200,
      {{"offset", offset}, {"length", length}, {"chunks", zeroed.value("chunks", Json::array())}});
}

Result<ApiResponse> transfer_finish(ImageService& images, const std::string& id) {
  ASSIGN_OR_RETURN(Json record, images.get(id));
  if (!record.contains("transfer") && record["image"].value("status", "") == "active") {
    return json_response(200, image_view(record));  // finished before
  }
  ASSIGN_OR_RETURN(record, with_transfer(images, id));
  const std::string store = store_of(record);
  const uint64_t size = record["transfer"].value("size", uint64_t{0});
  auto finished = images.call("image.transfer_finish",
                              {{"id", id}, {"backend", store}, {"size", size}, {"hash", "sha256"}});
  if (!finished.ok()) {
    if (finished.status().err() == EAGAIN) return Status::Busy(finished.status().message());
    return finished.status();
  }
  auto settled = images.update(id, [&](Json& rec) -> Status {
    Json& image = rec["image"];
    if (!rec.contains("transfer")) return Status::Ok();  // another finish settled it
    rec.erase("transfer");
    image["status"] = "active";
    image["size"] = size;
    image["virtual_size"] = size;
    image["disk_format"] = "raw";
    image["os_hash_algo"] = "sha256";
    image["os_hash_value"] = finished->value("hash_value", "");
    rec["stores"] = Json::array({store});
    return Status::Ok();
  });
  if (!settled.ok() && settled.status().err() == ENOENT) {
    (void)images.call("image.delete", {{"id", id}});
    return Status::Error(ESTALE, "image " + id + " was deleted while its transfer finished");
  }
  if (!settled.ok()) return settled.status();
  return json_response(200, image_view(*settled));
}

Result<ApiResponse> transfer_abandon(ImageService& images, const std::string& id) {
  ASSIGN_OR_RETURN(Json record, with_transfer(images, id));
  auto removed = images.call("image.delete", {{"id", id}, {"backend", store_of(record)}});
  if (!removed.ok() && removed.status().err() != ENOENT) {
    return removed.status().Prefixed("cannot remove the partial data of image " + id);
  }
  RETURN_IF_ERROR(images
                      .update(id,
                              [&](Json& rec) -> Status {
                                rec.erase("transfer");
                                if (rec["image"].value("status", "") == "saving") {
                                  rec["image"]["status"] = "queued";
                                }
                                return Status::Ok();
                              })
                      .status());
  return ApiResponse{204, {}, ""};
}

}  // namespace rbdvol::service::glance
