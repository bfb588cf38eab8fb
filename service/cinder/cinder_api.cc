#include "service/cinder/cinder_api.h"

#include <set>
#include <vector>

#include "service/cinder/errors.h"
#include "service/cinder/handlers.h"
#include "service/http_server.h"

namespace rbdvol::service::cinder {
namespace {

struct Route {
  const char* method;
  std::vector<const char*> pattern;  // "*" matches one segment
  Handler handler;
  int min_minor = 0;  // the microversion the endpoint needs
};

const std::vector<Route>& routes() {
  static const std::vector<Route> table = {
      {"GET", {"volumes"}, volumes_list},
      {"GET", {"volumes", "detail"}, volumes_detail},
      {"POST", {"volumes"}, volume_create},
      {"GET", {"volumes", "*"}, volume_show},
      {"PUT", {"volumes", "*"}, volume_update},
      {"DELETE", {"volumes", "*"}, volume_delete},
      {"POST", {"volumes", "*", "action"}, volume_action},
      {"GET", {"volumes", "*", "metadata"}, volume_metadata_show},
      {"POST", {"volumes", "*", "metadata"}, volume_metadata_merge},
      {"PUT", {"volumes", "*", "metadata"}, volume_metadata_replace},
      {"GET", {"volumes", "*", "metadata", "*"}, volume_metadata_key_show},
      {"DELETE", {"volumes", "*", "metadata", "*"}, volume_metadata_key_delete},
      {"GET", {"snapshots"}, snapshots_list},
      {"GET", {"snapshots", "detail"}, snapshots_detail},
      {"POST", {"snapshots"}, snapshot_create},
      {"GET", {"snapshots", "*"}, snapshot_show},
      {"DELETE", {"snapshots", "*"}, snapshot_delete},
      {"GET", {"types"}, types_list},
      {"GET", {"types", "default"}, type_default},
      {"GET", {"types", "*"}, type_show},
      {"GET", {"types", "*", "extra_specs"}, type_extra_specs},
      {"GET", {"types", "*", "extra_specs", "*"}, type_extra_spec},
      {"POST", {"types"}, types_read_only},
      {"PUT", {"types", "*"}, types_read_only},
      {"DELETE", {"types", "*"}, types_read_only},
      {"POST", {"types", "*", "extra_specs"}, types_read_only},
      {"PUT", {"types", "*", "extra_specs", "*"}, types_read_only},
      {"DELETE", {"types", "*", "extra_specs", "*"}, types_read_only},
      {"POST", {"types", "*", "action"}, types_read_only},
      {"GET", {"attachments"}, attachments_list, 27},
      {"GET", {"attachments", "detail"}, attachments_detail, 27},
      {"POST", {"attachments"}, attachment_create, 27},
      {"GET", {"attachments", "*"}, attachment_show, 27},
      {"PUT", {"attachments", "*"}, attachment_update, 27},
      {"POST", {"attachments", "*", "action"}, attachment_action, 44},
      {"DELETE", {"attachments", "*"}, attachment_delete, 27},
      {"GET", {"scheduler-stats", "get_pools"}, pools_list},
      {"GET", {"os-services"}, services_list},
      {"GET", {"os-availability-zone"}, availability_zones},
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

// A literal segment wins over "*" (volumes/detail before volumes/{id}).
bool more_specific(const Route& a, const Route& b) {
  for (size_t i = 0; i < a.pattern.size() && i < b.pattern.size(); ++i) {
    bool wa = std::string(a.pattern[i]) == "*", wb = std::string(b.pattern[i]) == "*";
    if (wa != wb) return !wa;
  }
  return false;
}

void add_version_headers(ApiResponse& response, const Microversion& v) {
  response.headers["OpenStack-API-Version"] = "volume " + v.text();
  response.headers["Vary"] = "OpenStack-API-Version";
}

}  // namespace

bool is_collection(const std::string& segment) {
  static const std::set<std::string> collections = {"volumes",
                                                    "snapshots",
                                                    "types",
                                                    "attachments",
                                                    "scheduler-stats",
                                                    "os-services",
                                                    "os-availability-zone",
                                                    "limits",
                                                    "extensions",
                                                    "backups",
                                                    "messages",
                                                    "groups",
                                                    "group_types",
                                                    "group_snapshots",
                                                    "qos-specs",
                                                    "os-quota-sets",
                                                    "servers",
                                                    "workers",
                                                    "clusters",
                                                    "manageable_volumes",
                                                    "manageable_snapshots",
                                                    "resource_filters",
                                                    "default-types",
                                                    "os-hosts",
                                                    "capabilities",
                                                    "consistencygroups",
                                                    "cgsnapshots",
                                                    "os-volume-transfer",
                                                    "volume-transfers"};
  return collections.count(segment) > 0;
}

ApiResponse CinderApi::handle(ApiRequest& request) {
  try {
    return route(request);
  } catch (const std::exception& e) {
    log_line(request.request_id + " internal error: " + printable(e.what()));
    return error_response(500, "internal error; see rbdvold's log for " + request.request_id);
  }
}

ApiResponse CinderApi::route(ApiRequest& request) {
  if (request.target.empty()) {
    return error_response(400,
                          "the request path is not valid: bad percent escape or a control "
                          "character");
  }
  const auto& seg = request.segments;
  if (seg.empty()) {
    if (request.method != "GET") return error_response(405, "only GET is allowed on /");
    return versions_root(request);
  }
  if (seg[0] != "v3") {
    return error_response(404, "unknown path; this is the Cinder block storage v3 API at /v3");
  }
  if (seg.size() == 1) {
    if (request.method != "GET") return error_response(405, "only GET is allowed on /v3/");
    return versions_v3(request);
  }
  if (!auth_.allows(request)) {
    ApiResponse r = error_response(401, "authentication required: a valid X-Auth-Token");
    r.headers["WWW-Authenticate"] = "Keystone uri=\"none\"";
    return r;
  }
  std::string version_header = request.header("openstack-api-version");
  auto version = requested_microversion(version_header);
  if (!version) {
    ApiResponse r =
        error_response(406, "version '" + printable(version_header, 64) +
                                "' is not supported: the API serves volume 3." +
                                std::to_string(kMinMinor) + " to 3." + std::to_string(kMaxMinor));
    add_version_headers(r, Microversion{3, kMaxMinor});
    return r;
  }
  Call call{request, *version, "", "/v3", {}, nullptr};
  size_t first = 1;
  if (!is_collection(seg[1])) {
    call.project_id = seg[1];
    call.prefix = "/v3/" + seg[1];
    first = 2;
  } else {
    call.project_id = request.header("x-project-id");
  }
  call.rest.assign(seg.begin() + static_cast<long>(first), seg.end());
  ApiResponse response;
  if (call.rest.empty()) {
    response = versions_v3(request);
    add_version_headers(response, *version);
    return response;
  }
  const Route* found = nullptr;
  bool path_known = false;
  for (const auto& r : routes()) {
    if (!matches(r, call.rest)) continue;
    path_known = true;
    if (request.method != r.method) continue;
    if (!found || more_specific(r, *found)) found = &r;
  }
  if (!found) {
    response = path_known ? error_response(405, request.method + " is not allowed on " +
                                                    printable(request.path, 128))
                          : error_response(404, "unknown resource " + printable(request.path, 128));
  } else if (!version->at_least(found->min_minor)) {
    response = error_response(404, printable(request.path, 128) + " needs microversion 3." +
                                       std::to_string(found->min_minor) +
                                       " or later (asked: " + version->text() + ")");
  } else {
    bool body_ok = true;
    if (!request.body.empty()) {
      call.body = Json::parse(request.body, nullptr, false);
      if (call.body.is_discarded()) {
        body_ok = false;
        response = error_response(400, "the request body is not valid JSON");
      }
    }
    if (body_ok) {
      Result<ApiResponse> r = found->handler(service_, call);
      response = r.ok() ? std::move(r).value() : error_response(r.status());
    }
  }
  add_version_headers(response, *version);
  return response;
}

}  // namespace rbdvol::service::cinder
