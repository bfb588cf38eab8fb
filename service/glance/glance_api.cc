#include "service/glance/glance_api.h"

#include <unistd.h>

#include <algorithm>
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <fstream>
#include <set>

#include "service/cinder/errors.h"
#include "service/glance/image_data.h"
#include "service/glance/image_transfer.h"
#include "service/http_server.h"

namespace rbdvol::service::glance {
namespace {

// The API's minor versions: v2.0 to v2.9 (v2.9 current).
constexpr int kMaxMinor = 9;

const std::set<std::string> kStatuses = {"queued",    "saving",         "uploading",
                                         "importing", "active",         "killed",
                                         "deleted",   "pending_delete", "deactivated"};
// Attributes a client may not set or change.
const std::set<std::string> kReadOnly = {"id",
                                         "status",
                                         "checksum",
                                         "os_hash_algo",
                                         "os_hash_value",
                                         "size",
                                         "virtual_size",
                                         "created_at",
                                         "updated_at",
                                         "self",
                                         "file",
                                         "schema",
                                         "direct_url",
                                         "stores",
                                         "locations",
                                         "os_glance_importing_to_stores",
                                         "os_glance_failed_import"};
// Attributes with a type of their own.
const std::set<std::string> kCore = {
    "name",    "visibility", "protected",   "os_hidden",        "owner",
    "min_ram", "min_disk",   "disk_format", "container_format", "tags"};

const char* title_for(int status) {
  switch (status) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 413:
      return "Request Entity Too Large";
    case 415:
      return "Unsupported Media Type";
    case 416:
      return "Requested Range Not Satisfiable";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

bool is_uuid(const std::string& s) {
  if (s.size() != 36) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

std::string new_id() { return boost::uuids::to_string(boost::uuids::random_generator()()); }

std::string joined(const Json& list) {
  std::string out;
  for (const auto& s : list) out += (out.empty() ? "" : ",") + s.get<std::string>();
  return out;
}

// Checks one attribute's value against its type.
Status check_attribute(const std::string& key, const Json& value) {
  if (key.empty() || key.size() > 255) return Status::Invalid("attribute names are 1 to 255 bytes");
  if (key.rfind("os_glance", 0) == 0) {
    return Status::Error(EACCES, "attribute '" + key + "' is reserved");
  }
  if (kReadOnly.count(key)) return Status::Error(EACCES, "attribute '" + key + "' is read-only");
  if (key == "name") {
    if (!value.is_null() && !(value.is_string() && value.get<std::string>().size() <= 255)) {
      return Status::Invalid("name must be a string of at most 255 bytes, or null");
    }
    if (value.is_string()) {
      for (unsigned char c : value.get<std::string>()) {
        if (c < 0x20 || c == 0x7f) return Status::Invalid("name must not hold control characters");
      }
    }
  } else if (key == "visibility") {
    static const std::set<std::string> ok = {"public", "private", "shared", "community"};
    if (!value.is_string() || !ok.count(value.get<std::string>())) {
      return Status::Invalid("visibility must be public, private, shared or community");
    }
  } else if (key == "protected" || key == "os_hidden") {
    if (!value.is_boolean()) return Status::Invalid(key + " must be true or false");
  } else if (key == "min_ram" || key == "min_disk") {
    if (!value.is_number_integer() || value.get<int64_t>() < 0) {
      return Status::Invalid(key + " must be a non-negative integer");
    }
  } else if (key == "disk_format") {
    if (!value.is_null() && value != "raw" && value != "qcow2") {
      return Status::Invalid("disk_format " + value.dump() +
                             " is not supported: raw or qcow2 (stored raw either way)");
    }
  } else if (key == "container_format") {
    if (!value.is_null() && value != "bare") {
      return Status::Invalid("container_format " + value.dump() + " is not supported: bare");
    }
  } else if (key == "owner") {
    if (!value.is_null() && !value.is_string()) return Status::Invalid("owner must be a string");
  } else if (key == "tags") {
    if (!value.is_array()) return Status::Invalid("tags must be a list of strings");
    for (const auto& t : value) {
      if (!t.is_string() || t.get<std::string>().empty() || t.get<std::string>().size() > 255) {
        return Status::Invalid("each tag must be a string of 1 to 255 bytes");
      }
    }
  } else {
    if (!value.is_string()) {
      return Status::Invalid("custom property '" + key + "' must be a string");
    }
    if (value.get<std::string>().size() > 65535) {
      return Status::Invalid("custom property '" + key + "' is longer than 65535 bytes");
    }
  }
  return Status::Ok();
}

// One handler's view of the request.
struct Call {
  ApiRequest& request;
  ImageService& images;
  std::vector<std::string> rest;  // segments after "v2"
  Json body;
};

Result<Json> fetch(Call& c, const std::string& id) {
  if (!is_uuid(id)) return Status::NotFound("no image with ID " + id);
  return c.images.get(id);
}

std::string project_of(const ApiRequest& r) {
  std::string p = r.header("x-project-id");
  if (p.empty()) p = r.header("x-tenant-id");
  return p;
}

// --- images ---

// A new image's record as Glance shows it: queued, no data, defaults.
Json new_image(const std::string& id) {
  const std::string now = utc_now_text();
  return {{"id", id},
          {"name", nullptr},
          {"status", "queued"},
          {"visibility", "shared"},
          {"protected", false},
          {"os_hidden", false},
          {"checksum", nullptr},
          {"os_hash_algo", nullptr},
          {"os_hash_value", nullptr},
          {"owner", nullptr},
          {"size", nullptr},
          {"virtual_size", nullptr},
          {"min_ram", 0},
          {"min_disk", 0},
          {"disk_format", nullptr},
          {"container_format", nullptr},
          {"tags", Json::array()},
          {"created_at", now},
          {"updated_at", now}};
}

Result<ApiResponse> images_create(Call& c) {
  if (!c.body.is_object()) return Status::Invalid("the body must be a JSON object");
  const std::string id = c.body.contains("id")
                             ? c.body["id"].is_string() ? c.body["id"].get<std::string>() : "-"
                             : new_id();
  if (!is_uuid(id)) return Status::Invalid("id must be a UUID");
  Json image = new_image(id);
  const std::string owner = project_of(c.request);
  if (!owner.empty()) image["owner"] = owner;
  for (const auto& [key, value] : c.body.items()) {
    if (key == "id") continue;
    RETURN_IF_ERROR(check_attribute(key, value));
    image[key] = value;
  }
  std::string home = c.request.header("x-image-meta-store");
  if (!home.empty() && !c.images.config().find_backend(home)) {
    return Status::Invalid("store '" + home + "' is not a known store");
  }
  if (home.empty()) home = c.images.default_store();
  Json record = {{"image", image}, {"stores", Json::array()}};
  if (!c.request.header("x-image-meta-store").empty()) record["store"] = home;
  Status put = c.images.put(id, home, record, nullptr);
  if (put.err() == EBUSY) return Status::Exists("an image with ID " + id + " already exists");
  RETURN_IF_ERROR(put);
  record["home"] = home;
  ApiResponse r = json_response(201, image_view(record));
  r.headers["Location"] = c.request.base_url + "/v2/images/" + id;
  return r;
}

bool matches_filters(const Json& image, const ApiRequest& r) {
  for (const char* key :
       {"name", "status", "visibility", "owner", "disk_format", "container_format", "id"}) {
    if (!r.has_param(key)) continue;
    const std::string want = r.param(key);
    const Json& have = image.value(key, Json());
    if (!have.is_string() || have.get<std::string>() != want) return false;
  }
  if (r.has_param("tag")) {
    auto range = r.query.equal_range("tag");
    for (auto it = range.first; it != range.second; ++it) {
      const Json tags = image.value("tags", Json::array());
      if (std::find(tags.begin(), tags.end(), Json(it->second)) == tags.end()) return false;
    }
  }
  if (!r.has_param("os_hidden") || r.param("os_hidden") != "true") {
    if (image.value("os_hidden", false)) return false;
  }
  return true;
}

Result<ApiResponse> images_list(Call& c) {
  const ApiRequest& r = c.request;
  size_t limit = 25;
  if (r.has_param("limit")) {
    const std::string l = r.param("limit");
    if (l.empty() || l.size() > 6 || l.find_first_not_of("0123456789") != std::string::npos) {
      return Status::Invalid("limit must be a non-negative integer");
    }
    limit = std::min<size_t>(std::stoul(l), 1000);
  }
  if (r.has_param("status") && !kStatuses.count(r.param("status"))) {
    return Status::Invalid("unknown status '" + printable(r.param("status"), 64) + "'");
  }
  // Sort: sort=key:dir,... or sort_key=...&sort_dir=...; default created_at desc.
  std::vector<std::pair<std::string, bool>> sort;  // key, descending
  static const std::set<std::string> sortable = {
      "name",       "status",     "container_format", "disk_format", "size",     "id",
      "created_at", "updated_at", "visibility",       "min_ram",     "min_disk", "owner"};
  if (r.has_param("sort")) {
    std::string spec = r.param("sort");
    size_t start = 0;
    while (start <= spec.size()) {
      size_t comma = spec.find(',', start);
      std::string item =
          spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      size_t colon = item.find(':');
      std::string key = item.substr(0, colon);
      std::string dir = colon == std::string::npos ? "desc" : item.substr(colon + 1);
      if (!sortable.count(key) || (dir != "asc" && dir != "desc")) {
        return Status::Invalid("bad sort '" + printable(item, 64) + "': KEY[:asc|desc]");
      }
      sort.emplace_back(key, dir == "desc");
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  } else {
    auto keys = r.query.equal_range("sort_key");
    auto dirs = r.query.equal_range("sort_dir");
    auto d = dirs.first;
    for (auto k = keys.first; k != keys.second; ++k) {
      std::string dir = d != dirs.second ? (d++)->second : "desc";
      if (!sortable.count(k->second) || (dir != "asc" && dir != "desc")) {
        return Status::Invalid("bad sort_key/sort_dir '" + printable(k->second, 64) + "'");
      }
      sort.emplace_back(k->second, dir == "desc");
    }
  }
  if (sort.empty()) sort.emplace_back("created_at", true);
  sort.emplace_back("id", sort.back().second);

  std::vector<std::string> down;
  ASSIGN_OR_RETURN(std::vector<Json> records, c.images.list(&down));
  if (!down.empty() && records.empty()) {
    return Status::Error(EHOSTUNREACH, "no backend answered: " + down.front());
  }
  std::vector<Json> shown;
  for (auto& rec : records) {
    if (matches_filters(rec["image"], r)) shown.push_back(std::move(rec));
  }
  auto less = [&](const Json& a, const Json& b) {
    for (const auto& [key, desc] : sort) {
      const Json& x = a["image"].value(key, Json());
      const Json& y = b["image"].value(key, Json());
      if (x == y) continue;
      // nulls first in ascending order, as in Glance
      bool lt = x.is_null() ? true : y.is_null() ? false : x < y;
      return desc ? !lt : lt;
    }
    return false;
  };
  std::sort(shown.begin(), shown.end(), less);
  size_t first = 0;
  if (r.has_param("marker")) {
    const std::string marker = r.param("marker");
    auto it = std::find_if(shown.begin(), shown.end(),
                           [&](const Json& x) { return x["image"].value("id", "") == marker; });
    if (it == shown.end()) return Status::Invalid("marker " + printable(marker, 64) + " not found");
    first = static_cast<size_t>(it - shown.begin()) + 1;
  }
  Json page = Json::array();
  for (size_t i = first; i < shown.size() && page.size() < limit; ++i) {
    page.push_back(image_view(shown[i]));
  }
  Json body = {{"images", page}, {"schema", "/v2/schemas/images"}, {"first", "/v2/images"}};
  if (first + page.size() < shown.size() && !page.empty()) {
    std::string next = "/v2/images?marker=" + page.back()["id"].get<std::string>() +
                       "&limit=" + std::to_string(limit);
    for (const auto& [k, v] : r.query) {
      if (k == "marker" || k == "limit") continue;
      std::string enc;
      for (unsigned char ch : v) {
        if (std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '~' || ch == ':') {
          enc += static_cast<char>(ch);
        } else {
          char buf[4];
          std::snprintf(buf, sizeof buf, "%%%02X", ch);
          enc += buf;
        }
      }
      next += "&" + k + "=" + enc;
    }
    body["next"] = next;
  }
  return json_response(200, body);
}

Result<ApiResponse> image_show(Call& c) {
  ASSIGN_OR_RETURN(Json record, fetch(c, c.rest[1]));
  return json_response(200, image_view(record));
}

Result<ApiResponse> image_patch(Call& c) {
  const std::string type = c.request.header("content-type");
  if (type.rfind("application/openstack-images-v2.1-json-patch", 0) != 0 &&
      type.rfind("application/openstack-images-v2.0-json-patch", 0) != 0) {
    ApiResponse r =
        glance_error(415, "PATCH needs Content-Type application/openstack-images-v2.1-json-patch");
    r.headers["Accept-Patch"] = "application/openstack-images-v2.1-json-patch";
    return r;
  }
  ASSIGN_OR_RETURN(Json record, c.images.update(c.rest[1], [&](Json& rec) -> Status {
    Json image = rec["image"];
    const bool queued = image.value("status", "") == "queued";
    RETURN_IF_ERROR(apply_patch(image, c.body));
    for (const char* key : {"disk_format", "container_format"}) {
      if (!queued && image.value(key, Json()) != rec["image"].value(key, Json())) {
        return Status::Error(EACCES,
                             std::string(key) + " can only change while the image is queued");
      }
    }
    rec["image"] = image;
    return Status::Ok();
  }));
  return json_response(200, image_view(record));
}

Result<ApiResponse> image_delete(Call& c) {
  ASSIGN_OR_RETURN(Json record, fetch(c, c.rest[1]));
  const Json& image = record["image"];
  const std::string id = image.value("id", "");
  if (image.value("protected", false)) {
    return Status::Error(EACCES, "image " + id + " is protected and cannot be deleted");
  }
  if (record.contains("job")) {
    return Status::Busy("image " + id + " is " + image.value("status", std::string()) + " (" +
                        record["job"].value("kind", std::string()) +
                        "); delete it once that is over");
  }
  auto removed = c.images.call("image.delete", {{"id", id}});
  if (!removed.ok() && removed.status().err() != ENOENT) {
    return removed.status().Prefixed("cannot delete the data of image " + id);
  }
  if (record.value("staged_on", "") == c.images.instance()) {
    ::unlink(staging_path(c.images.config(), id).c_str());
  }
  Status s = c.images.put(id, record.value("home", ""), nullptr, record);
  if (s.err() == EBUSY)
    return Status::Busy("image " + id + " changed while being deleted; try again");
  RETURN_IF_ERROR(s);
  return ApiResponse{204, {}, ""};
}

// --- tags ---

Result<ApiResponse> tag_change(Call& c, bool add) {
  const std::string tag = c.rest[3];
  if (add) RETURN_IF_ERROR(check_attribute("tags", Json::array({tag})));
  ASSIGN_OR_RETURN(Json record, c.images.update(c.rest[1], [&](Json& rec) -> Status {
    Json& tags = rec["image"]["tags"];
    auto it = std::find(tags.begin(), tags.end(), Json(tag));
    if (add) {
      if (it == tags.end()) tags.push_back(tag);
    } else {
      if (it == tags.end()) return Status::NotFound("image has no tag '" + tag + "'");
      tags.erase(it);
    }
    return Status::Ok();
  }));
  return ApiResponse{204, {}, ""};
}

Result<ApiResponse> tag_add(Call& c) { return tag_change(c, true); }
Result<ApiResponse> tag_remove(Call& c) { return tag_change(c, false); }

// --- data ---

// The request body as a Reader.
Reader body_reader(ApiRequest& request) {
  if (request.read_body) {
    return [&request](char* buf, size_t len) { return request.read_body(buf, len); };
  }
  auto offset = std::make_shared<size_t>(0);
  return [&request, offset](char* buf, size_t len) -> int64_t {
    size_t n = std::min(len, request.body.size() - *offset);
    std::memcpy(buf, request.body.data() + *offset, n);
    *offset += n;
    return static_cast<int64_t>(n);
  };
}

// The store a request names (X-Image-Meta-Store), else the record's or the default.
Result<std::string> store_for(Call& c, const Json& record) {
  std::string store = c.request.header("x-image-meta-store");
  if (store.empty()) store = record.value("store", c.images.default_store());
  if (!c.images.config().find_backend(store)) {
    return Status::Invalid("store '" + printable(store, 64) + "' is not a known store");
  }
  return store;
}

// Turns a failure of moving data into the status the client gets.
Status data_failure(const Status& s) {
  if (s.err() == EPIPE) return Status::Invalid(s.message());
  return s;
}

Result<ApiResponse> image_upload(Call& c) {
  const std::string id = c.rest[1];
  ASSIGN_OR_RETURN(Json record, fetch(c, id));
  ASSIGN_OR_RETURN(std::string store, store_for(c, record));
  const std::string format = record["image"].value("disk_format", Json()).is_string()
                                 ? record["image"]["disk_format"].get<std::string>()
                                 : "";
  if (format.empty() || record["image"].value("container_format", Json()).is_null()) {
    return Status::Invalid("set disk_format and container_format before uploading data");
  }
  ASSIGN_OR_RETURN(Json saving, c.images.update(id, [&](Json& rec) -> Status {
    const std::string status = rec["image"].value("status", "");
    if (status != "queued") {
      return Status::Busy("image " + id + " is " + status +
                          "; data can only be uploaded to a queued image");
    }
    rec["image"]["status"] = "saving";
    rec["job"] = c.images.job("upload");
    rec.erase("message");
    return Status::Ok();
  }));
  ImageService::Held held(c.images, id);  // its heartbeat renewed while the upload runs
  auto stored =
      store_image_data(c.images, id, store, format, body_reader(c.request),
                       c.images.config().service.image_size_cap, c.request.content_length);
  auto settled = c.images.update(id, [&](Json& rec) -> Status {
    Json& image = rec["image"];
    rec.erase("job");
    if (!stored.ok()) {
      image["status"] = "queued";
      rec["message"] = stored.status().message();
      return Status::Ok();
    }
    image["status"] = "active";
    image["size"] = stored->size;
    image["virtual_size"] = stored->size;
    image["disk_format"] = "raw";
    image["os_hash_algo"] = "sha256";
    image["os_hash_value"] = stored->sha256;
    rec["stores"] = Json::array({store});
    return Status::Ok();
  });
  if (!stored.ok()) {
    log_line(c.request.request_id + " image " + id +
             " upload failed: " + printable(stored.status().message()));
    return data_failure(stored.status());
  }
  if (!settled.ok() && settled.status().err() == ENOENT) {
    (void)c.images.call("image.delete", {{"id", id}});
    return Status::Error(ESTALE, "image " + id + " was deleted during the upload");
  }
  RETURN_IF_ERROR(settled.status());
  return ApiResponse{204, {}, ""};
}

Result<ApiResponse> image_stage(Call& c) {
  const std::string id = c.rest[1];
  ASSIGN_OR_RETURN(Json record, fetch(c, id));
  ASSIGN_OR_RETURN(Json uploading, c.images.update(id, [&](Json& rec) -> Status {
    const std::string status = rec["image"].value("status", "");
    if (status != "queued") {
      return Status::Busy("image " + id + " is " + status + "; only a queued image can be staged");
    }
    rec["image"]["status"] = "uploading";
    rec["job"] = c.images.job("upload");
    rec["staged_on"] = c.images.instance();
    return Status::Ok();
  }));
  ImageService::Held held(c.images, id);
  auto staged = stage_image_data(c.images.config(), id, body_reader(c.request),
                                 c.images.config().service.image_size_cap);
  if (staged.ok() && c.request.content_length && *staged != *c.request.content_length) {
    staged = Status::Error(EPIPE, "the body had " + std::to_string(*staged) +
                                      " bytes, Content-Length said " +
                                      std::to_string(*c.request.content_length));
    ::unlink(staging_path(c.images.config(), id).c_str());
  }
  RETURN_IF_ERROR(c.images
                      .update(id,
                              [&](Json& rec) -> Status {
                                rec.erase("job");
                                if (!staged.ok()) {
                                  rec["image"]["status"] = "queued";
                                  rec.erase("staged_on");
                                  rec["message"] = staged.status().message();
                                } else {
                                  rec["image"]["size"] = *staged;
                                }
                                return Status::Ok();
                              })
                      .status());
  if (!staged.ok()) return data_failure(staged.status());
  return ApiResponse{204, {}, ""};
}

Result<ApiResponse> image_download(Call& c) {
  const std::string id = c.rest[1];
  ASSIGN_OR_RETURN(Json record, fetch(c, id));
  const Json& image = record["image"];
  if (image.value("status", "") != "active") {
    if (image.value("status", "") == "queued") return ApiResponse{204, {}, ""};
    return Status::Busy("image " + id + " is " + image.value("status", std::string()) +
                        "; its data can be read once it is active");
  }
  const Json stores = record.value("stores", Json::array());
  if (stores.empty()) return Status::NotFound("image " + id + " has no data in any store");
  const uint64_t size = image.value("size", uint64_t{0});
  auto range = parse_range(c.request.header("range"), size);
  if (!range.ok()) {
    ApiResponse r = glance_error(416, range.status().message());
    r.headers["Content-Range"] = "bytes */" + std::to_string(size);
    return r;
  }
  ApiResponse r;
  uint64_t offset = 0, length = size;
  if (*range) {
    offset = (*range)->offset;
    length = (*range)->length;
    r.status = 206;
    r.headers["Content-Range"] = "bytes " + std::to_string(offset) + "-" +
                                 std::to_string(offset + length - 1) + "/" + std::to_string(size);
  }
  r.headers["Accept-Ranges"] = "bytes";
  const std::string store = stores.at(0).get<std::string>();
  ImageService& images = c.images;
  r.stream_length = length;
  r.stream = [&images, id, store, offset, length](const StreamWriter& write) {
    return read_image_data(images, id, store, offset, length, write);
  };
  return r;
}

// --- import ---

// The stores an import or copy asks for: "stores", "all_stores", or the
// header X-Image-Meta-Store, or the default.
Result<std::vector<std::string>> import_stores(Call& c) {
  std::vector<std::string> stores;
  if (c.body.value("all_stores", false)) {
    for (const auto& b : c.images.config().backends) stores.push_back(b.id);
  } else if (c.body.contains("stores")) {
    if (!c.body["stores"].is_array() || c.body["stores"].empty()) {
      return Status::Invalid("stores must be a non-empty list of store ids");
    }
    for (const auto& s : c.body["stores"]) {
      if (!s.is_string()) return Status::Invalid("stores must be a list of store ids");
      stores.push_back(s.get<std::string>());
    }
  } else {
    std::string one = c.request.header("x-image-meta-store");
    stores.push_back(one.empty() ? c.images.default_store() : one);
  }
  for (const auto& s : stores) {
    if (!c.images.config().find_backend(s)) {
      return Status::Invalid("store '" + printable(s, 64) + "' is not a known store");
    }
  }
  return stores;
}

// Moves one store from "importing" to "stores" or "failed".
void settle_store(ImageService& images, const std::string& id, const std::string& store,
                  const Status& outcome, bool last) {
  auto done = images.update(id, [&](Json& rec) -> Status {
    Json importing = Json::array();
    for (const auto& s : rec.value("importing", Json::array())) {
      if (s != store) importing.push_back(s);
    }
    rec["importing"] = importing;
    const char* list = outcome.ok() ? "stores" : "failed";
    Json target = rec.value(list, Json::array());
    if (std::find(target.begin(), target.end(), Json(store)) == target.end()) {
      target.push_back(store);
    }
    rec[list] = target;
    if (!outcome.ok()) rec["message"] = outcome.message();
    if (last) rec.erase("job");
    return Status::Ok();
  });
  if (!outcome.ok()) {
    log_line("image " + id + ": import to store " + store +
             " failed: " + printable(outcome.message()));
  }
  if (!done.ok()) {
    log_line("image " + id + ": cannot record the import to " + store + ": " +
             done.status().message());
  }
}

// A glance-direct import: the staged file into the first store, copies into the others.
void import_staged(ImageService& images, const std::string& id, std::vector<std::string> stores,
                   const std::string& format) {
  const std::string path = staging_path(images.config(), id);
  uint64_t size = 0;
  auto reader = file_reader(path, &size);
  Result<Stored> stored = reader.ok()
                              ? store_image_data(images, id, stores.front(), format, *reader,
                                                 images.config().service.image_size_cap, size)
                              : Result<Stored>(reader.status());
  auto first = images.update(id, [&](Json& rec) -> Status {
    Json& image = rec["image"];
    if (!stored.ok()) {
      image["status"] = "uploading";
      rec["failed"] = Json(stores);
      rec["importing"] = Json::array();
      rec["message"] = stored.status().message();
      rec.erase("job");
      return Status::Ok();
    }
    image["status"] = "active";
    image["size"] = stored->size;
    image["virtual_size"] = stored->size;
    image["disk_format"] = "raw";
    image["os_hash_algo"] = "sha256";
    image["os_hash_value"] = stored->sha256;
    rec["stores"] = Json::array({stores.front()});
    Json rest = Json::array();
    for (size_t i = 1; i < stores.size(); ++i) rest.push_back(stores[i]);
    rec["importing"] = rest;
    rec.erase("staged_on");
    if (stores.size() == 1) rec.erase("job");
    return Status::Ok();
  });
  if (!stored.ok()) {
    log_line("image " + id + ": import failed: " + printable(stored.status().message()));
    return;
  }
  ::unlink(path.c_str());
  if (!first.ok()) return;
  for (size_t i = 1; i < stores.size(); ++i) {
    auto copied = images.call("image.copy", {{"id", id}, {"to", stores[i]}});
    settle_store(images, id, stores[i], copied.status(), i + 1 == stores.size());
  }
}

void copy_to_stores(ImageService& images, const std::string& id,
                    const std::vector<std::string>& stores) {
  for (size_t i = 0; i < stores.size(); ++i) {
    auto copied = images.call("image.copy", {{"id", id}, {"to", stores[i]}});
    settle_store(images, id, stores[i], copied.status(), i + 1 == stores.size());
  }
}

Result<ApiResponse> image_import(Call& c) {
  const std::string id = c.rest[1];
  if (!c.body.is_object() || !c.body.contains("method") || !c.body["method"].is_object()) {
    return Status::Invalid("the body must be {\"method\": {\"name\": ...}}");
  }
  const std::string method = c.body["method"].value("name", "");
  if (method != "glance-direct" && method != "copy-image") {
    return Status::Invalid("import method '" + printable(method, 64) +
                           "' is not supported: glance-direct or copy-image");
  }
  ASSIGN_OR_RETURN(std::vector<std::string> stores, import_stores(c));
  ASSIGN_OR_RETURN(Json before, fetch(c, id));
  std::string format;
  ASSIGN_OR_RETURN(Json record, c.images.update(id, [&](Json& rec) -> Status {
    Json& image = rec["image"];
    const std::string status = image.value("status", "");
    if (rec.contains("job")) {
      return Status::Busy("image " + id + " is busy (" + rec["job"].value("kind", std::string()) +
                          ")");
    }
    if (method == "glance-direct") {
      if (status != "uploading" || !rec.contains("staged_on")) {
        return Status::Busy("image " + id + " is " + status +
                            "; glance-direct imports a staged image (PUT .../stage first)");
      }
      if (rec["staged_on"] != c.images.instance()) {
        return Status::Busy("image " + id + " was staged on rbdvold instance " +
                            rec["staged_on"].get<std::string>() + "; import it there");
      }
      format = image.value("disk_format", Json()).is_string()
                   ? image["disk_format"].get<std::string>()
                   : "raw";
      image["status"] = "importing";
      rec["importing"] = Json(stores);
    } else {
      if (status != "active") {
        return Status::Busy("image " + id + " is " + status + "; copy-image needs an active image");
      }
      Json have = rec.value("stores", Json::array());
      std::vector<std::string> wanted;
      for (const auto& s : stores) {
        if (std::find(have.begin(), have.end(), Json(s)) == have.end()) wanted.push_back(s);
      }
      if (wanted.empty())
        return Status::Busy("image " + id + " is already in every store asked for");
      stores = wanted;
      rec["importing"] = Json(stores);
    }
    rec["failed"] = Json::array();
    rec["job"] = c.images.job(method == "glance-direct" ? "import" : "copy");
    return Status::Ok();
  }));
  ImageService& images = c.images;
  if (method == "glance-direct") {
    images.run_job(id,
                   [&images, id, stores, format] { import_staged(images, id, stores, format); });
  } else {
    images.run_job(id, [&images, id, stores] { copy_to_stores(images, id, stores); });
  }
  return ApiResponse{202, {}, ""};
}

Result<ApiResponse> store_delete(Call& c) {
  const std::string store = c.rest[1], id = c.rest[2];
  if (!c.images.config().find_backend(store)) {
    return Status::NotFound("store '" + printable(store, 64) + "' is not a known store");
  }
  ASSIGN_OR_RETURN(Json record, fetch(c, id));
  const Json stores = record.value("stores", Json::array());
  if (std::find(stores.begin(), stores.end(), Json(store)) == stores.end()) {
    return Status::NotFound("image " + id + " has no data in store " + store);
  }
  if (stores.size() == 1) {
    return Status::Busy("store " + store + " holds the only copy of image " + id +
                        "; delete the image instead");
  }
  if (record.contains("job")) return Status::Busy("image " + id + " is busy; try again later");
  RETURN_IF_ERROR(c.images.call("image.delete", {{"id", id}, {"backend", store}}).status());
  RETURN_IF_ERROR(c.images
                      .update(id,
                              [&](Json& rec) -> Status {
                                Json left = Json::array();
                                for (const auto& s : rec.value("stores", Json::array())) {
                                  if (s != store) left.push_back(s);
                                }
                                rec["stores"] = left;
                                return Status::Ok();
                              })
                      .status());
  return ApiResponse{204, {}, ""};
}

// --- discovery ---

std::string fsid_of(const std::string& ceph_conf) {
  std::ifstream in(ceph_conf);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) continue;
    std::string key = line.substr(0, eq);
    key.erase(std::remove_if(key.begin(), key.end(), ::isspace), key.end());
    if (key != "fsid") continue;
    std::string value = line.substr(eq + 1);
    value.erase(std::remove_if(value.begin(), value.end(), ::isspace), value.end());
    return value;
  }
  return "";
}

Result<ApiResponse> stores_info(Call& c, bool detail) {
  Json stores = Json::array();
  for (const auto& b : c.images.config().backends) {
    Json s = {{"id", b.id},
              {"description", "Ceph backend " + b.id + " (RBD pool " + b.image_pool + ")"}};
    if (b.id == c.images.default_store()) s["default"] = true;
    if (detail) {
      s["type"] = "rbd";
      s["properties"] = {{"pool", b.image_pool}, {"fsid", fsid_of(b.ceph_conf)}};
    }
    stores.push_back(s);
  }
  return json_response(200, {{"stores", stores}});
}

Result<ApiResponse> info_stores(Call& c) { return stores_info(c, false); }
Result<ApiResponse> info_stores_detail(Call& c) { return stores_info(c, true); }

Result<ApiResponse> info_import(Call&) {
  return json_response(200, {{"import-methods",
                              {{"description", "Import methods available."},
                               {"type", "array"},
                               {"value", Json::array({"glance-direct", "copy-image"})}}}});
}

Result<ApiResponse> schema_image(Call&) { return json_response(200, image_schema()); }
Result<ApiResponse> schema_images(Call&) { return json_response(200, images_schema()); }

ApiResponse versions(const ApiRequest& request, int status) {
  Json list = Json::array();
  for (int minor = kMaxMinor; minor >= 0; --minor) {
    list.push_back(
        {{"id", "v2." + std::to_string(minor)},
         {"status", minor == kMaxMinor ? "CURRENT" : "SUPPORTED"},
         {"links", Json::array({Json{{"rel", "self"}, {"href", request.base_url + "/v2/"}}})}});
  }
  return json_response(status, {{"versions", list}});
}

// --- the transfer resource (image_transfer.h) ---

Status known_id(const std::string& id) {
  return is_uuid(id) ? Status::Ok() : Status::NotFound("no image with ID " + id);
}
Result<ApiResponse> transfer_post(Call& c) {
  RETURN_IF_ERROR(known_id(c.rest[1]));
  return transfer_begin(c.images, c.request, c.rest[1], c.body);
}
Result<ApiResponse> transfer_get(Call& c) {
  RETURN_IF_ERROR(known_id(c.rest[1]));
  return transfer_show(c.images, c.rest[1]);
}
Result<ApiResponse> transfer_put(Call& c) {
  RETURN_IF_ERROR(known_id(c.rest[1]));
  return transfer_write(c.images, c.request, c.rest[1]);
}
Result<ApiResponse> transfer_delete(Call& c) {
  RETURN_IF_ERROR(known_id(c.rest[1]));
  return transfer_abandon(c.images, c.rest[1]);
}
Result<ApiResponse> transfer_zero_post(Call& c) {
  RETURN_IF_ERROR(known_id(c.rest[1]));
  return transfer_zero(c.images, c.rest[1], c.body);
}
Result<ApiResponse> transfer_finish_post(Call& c) {
  RETURN_IF_ERROR(known_id(c.rest[1]));
  return transfer_finish(c.images, c.rest[1]);
}

using Handler = Result<ApiResponse> (*)(Call&);

struct Route {
  const char* method;
  std::vector<const char*> pattern;  // after "v2"; "*" matches one segment
  Handler handler;
};

const std::vector<Route>& routes() {
  static const std::vector<Route> table = {
      {"GET", {"images"}, images_list},
      {"POST", {"images"}, images_create},
      {"GET", {"images", "*"}, image_show},
      {"PATCH", {"images", "*"}, image_patch},
      {"DELETE", {"images", "*"}, image_delete},
      {"PUT", {"images", "*", "file"}, image_upload},
      {"GET", {"images", "*", "file"}, image_download},
      {"PUT", {"images", "*", "stage"}, image_stage},
      {"POST", {"images", "*", "transfer"}, transfer_post},
      {"GET", {"images", "*", "transfer"}, transfer_get},
      {"PUT", {"images", "*", "transfer"}, transfer_put},
      {"DELETE", {"images", "*", "transfer"}, transfer_delete},
      {"POST", {"images", "*", "transfer", "zero"}, transfer_zero_post},
      {"POST", {"images", "*", "transfer", "finish"}, transfer_finish_post},
      {"POST", {"images", "*", "import"}, image_import},
      {"PUT", {"images", "*", "tags", "*"}, tag_add},
      {"DELETE", {"images", "*", "tags", "*"}, tag_remove},
      {"DELETE", {"stores", "*", "*"}, store_delete},
      {"GET", {"info", "import"}, info_import},
      {"GET", {"info", "stores"}, info_stores},
      {"GET", {"info", "stores", "detail"}, info_stores_detail},
      {"GET", {"schemas", "image"}, schema_image},
      {"GET", {"schemas", "images"}, schema_images},
  };
  return table;
}

bool matches(const Route& route, const std::vector<std::string>& rest) {
  if (route.pattern.size() != rest.size()) return false;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (std::string(route.pattern[i]) != "*" && route.pattern[i] != rest[i]) return false;
  }
  return true;
}

}  // namespace

Result<std::string> start_image_from_volume(ImageService& images, const std::string& volume_id,
                                            const std::string& name, bool force,
                                            const std::string& visibility, bool is_protected) {
  RETURN_IF_ERROR(check_attribute("name", name));
  RETURN_IF_ERROR(check_attribute("visibility", visibility));
  const std::string id = new_id();
  Json image = new_image(id);
  image["name"] = name;
  image["status"] = "saving";
  image["visibility"] = visibility;
  image["protected"] = is_protected;
  image["disk_format"] = "raw";
  image["container_format"] = "bare";
  image["source_volume"] = volume_id;
  const std::string home = images.default_store();
  Json record = {{"image", image}, {"stores", Json::array()}, {"job", images.job("volume")}};
  RETURN_IF_ERROR(images.put(id, home, record, nullptr));
  images.run_job(id, [&images, id, volume_id, name, force] {
    auto made = images.call("image.create_from_volume",
                            {{"volume", volume_id}, {"name", name}, {"id", id}, {"force", force}});
    Result<std::string> sha = made.ok() ? hash_image_data(images, id, made->value("backend", ""))
                                        : Result<std::string>(made.status());
    auto settled = images.update(id, [&](Json& rec) -> Status {
      rec.erase("job");
      Json& img = rec["image"];
      if (!sha.ok()) {
        img["status"] = "killed";
        rec["message"] = sha.status().message();
        return Status::Ok();
      }
      img["status"] = "active";
      img["size"] = made->value("size", uint64_t{0});
      img["virtual_size"] = made->value("size", uint64_t{0});
      img["os_hash_algo"] = "sha256";
      img["os_hash_value"] = *sha;
      rec["stores"] = Json::array({made->value("backend", "")});
      return Status::Ok();
    });
    if (!sha.ok()) {
      log_line("image " + id + " from volume " + volume_id +
               " failed: " + printable(sha.status().message()));
    }
    if (!settled.ok()) {
      log_line("image " + id + ": cannot record its outcome: " + settled.status().message());
    }
  });
  return id;
}

ApiResponse glance_error(int status, const std::string& message) {
  return json_response(
      status, {{"error", {{"message", message}, {"code", status}, {"title", title_for(status)}}}});
}

ApiResponse glance_error(const Status& status) {
  int code = cinder::http_error_for(status.err()).status;
  if (status.err() == ESTALE) code = 410;
  if (status.err() == EHOSTUNREACH) code = 503;
  return glance_error(code, status.message());
}

Json image_view(const Json& record) {
  Json view = record.value("image", Json::object());
  const std::string id = view.value("id", "");
  view["self"] = "/v2/images/" + id;
  view["file"] = "/v2/images/" + id + "/file";
  view["schema"] = "/v2/schemas/image";
  const Json stores = record.value("stores", Json::array());
  if (!stores.empty()) view["stores"] = joined(stores);
  const Json importing = record.value("importing", Json::array());
  const Json failed = record.value("failed", Json::array());
  if (!importing.empty() || !failed.empty()) {
    view["os_glance_importing_to_stores"] = joined(importing);
    view["os_glance_failed_import"] = joined(failed);
  }
  return view;
}

Status apply_patch(Json& image, const Json& patch) {
  if (!patch.is_array()) return Status::Invalid("the patch must be a JSON list of operations");
  for (const auto& op : patch) {
    if (!op.is_object() || !op.contains("op") || !op.contains("path") || !op["path"].is_string()) {
      return Status::Invalid("each patch operation needs 'op' and 'path'");
    }
    const std::string kind = op["op"].is_string() ? op["op"].get<std::string>() : "";
    std::string path = op["path"].get<std::string>();
    if (path.size() < 2 || path[0] != '/') return Status::Invalid("bad patch path '" + path + "'");
    std::string key = path.substr(1);
    if (key.find('/') != std::string::npos) {
      // /tags/- style paths are not part of Glance's patch language.
      return Status::Invalid("patch path '" + path + "' is not an image attribute");
    }
    // JSON pointer escapes
    for (size_t at; (at = key.find("~1")) != std::string::npos;) key.replace(at, 2, "/");
    for (size_t at; (at = key.find("~0")) != std::string::npos;) key.replace(at, 2, "~");
    if (kind == "add" || kind == "replace") {
      if (!op.contains("value"))
        return Status::Invalid("patch operation " + kind + " needs a value");
      RETURN_IF_ERROR(check_attribute(key, op["value"]));
      if (kind == "replace" && !image.contains(key)) {
        return Status::NotFound("cannot replace '" + key + "': the image has no such attribute");
      }
      image[key] = op["value"];
    } else if (kind == "remove") {
      if (kReadOnly.count(key) || key.rfind("os_glance", 0) == 0) {
        return Status::Error(EACCES, "attribute '" + key + "' is read-only");
      }
      if (kCore.count(key)) {
        return Status::Error(EACCES, "attribute '" + key + "' cannot be removed");
      }
      if (!image.contains(key)) {
        return Status::NotFound("cannot remove '" + key + "': the image has no such attribute");
      }
      image.erase(key);
    } else {
      return Status::Invalid("patch operation '" + kind +
                             "' is not supported: add, replace, remove");
    }
  }
  return Status::Ok();
}

bool GlanceApi::streams(const std::string& method, const std::string& path) {
  if (method != "PUT") return false;
  // /v2/images/{id}/file and /v2/images/{id}/stage
  const std::string prefix = "/v2/images/";
  if (path.compare(0, prefix.size(), prefix) != 0) return false;
  const size_t slash = path.find('/', prefix.size());
  if (slash == std::string::npos) return false;
  const std::string tail = path.substr(slash);
  return tail == "/file" || tail == "/stage" || tail == "/transfer";
}

ApiResponse GlanceApi::handle(ApiRequest& request) {
  try {
    return route(request);
  } catch (const std::exception& e) {
    log_line(request.request_id + " internal error: " + printable(e.what()));
    return glance_error(500, "internal error; see rbdvold's log for " + request.request_id);
  }
}

ApiResponse GlanceApi::route(ApiRequest& request) {
  if (request.target.empty()) {
    return glance_error(400,
                        "the request path is not valid: bad percent escape or a control character");
  }
  const auto& seg = request.segments;
  if (seg.empty() || (seg.size() == 1 && seg[0] == "versions")) {
    if (request.method != "GET") return glance_error(405, "only GET is allowed here");
    return versions(request, seg.empty() ? 300 : 200);
  }
  if (seg[0] != "v2") {
    return glance_error(404, "unknown path; this is the Glance image v2 API at /v2");
  }
  if (!auth_.allows(request)) {
    ApiResponse r = glance_error(401, "authentication required: a valid X-Auth-Token");
    r.headers["WWW-Authenticate"] = "Keystone uri=\"none\"";
    return r;
  }
  Call call{request, images_, {seg.begin() + 1, seg.end()}, nullptr};
  const Route* found = nullptr;
  bool path_known = false;
  for (const auto& r : routes()) {
    if (!matches(r, call.rest)) continue;
    path_known = true;
    if (request.method != r.method) continue;
    // A literal segment wins over "*" (info/stores/detail has none).
    found = &r;
    break;
  }
  if (!found) {
    return path_known ? glance_error(405, request.method + " is not allowed on " +
                                              printable(request.path, 128))
                      : glance_error(404, "unknown resource " + printable(request.path, 128));
  }
  if (!request.read_body && !request.body.empty() && found->handler != image_upload &&
      found->handler != image_stage && found->handler != transfer_put) {
    call.body = Json::parse(request.body, nullptr, false);
    if (call.body.is_discarded()) return glance_error(400, "the request body is not valid JSON");
  }
  Result<ApiResponse> r = found->handler(call);
  return r.ok() ? std::move(r).value() : glance_error(r.status());
}

}  // namespace rbdvol::service::glance
