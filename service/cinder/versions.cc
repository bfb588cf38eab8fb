// Version discovery: what cinderclient reads at the endpoint's root.
#include "service/cinder/handlers.h"
#include "service/cinder/views.h"

namespace rbdvol::service::cinder {
namespace {

Json v3_version(const ApiRequest& request) {
  return {{"id", "v3.0"},
          {"status", "CURRENT"},
          {"version", "3." + std::to_string(kMaxMinor)},
          {"min_version", "3." + std::to_string(kMinMinor)},
          {"updated", "2026-12-01T00:00:00Z"},
          {"links", Json::array({{{"rel", "describedby"},
                                  {"type", "text/html"},
                                  {"href", "https://docs.openstack.org/"}},
                                 {{"rel", "self"}, {"href", request.base_url + "/v3/"}}})},
          {"media-types",
           Json::array({{{"base", "application/json"},
                         {"type", "application/vnd.openstack.volume+json;version=3"}}})}};
}

}  // namespace

ApiResponse versions_root(const ApiRequest& request) {
  return json_response(300, {{"versions", Json::array({v3_version(request)})}});
}

ApiResponse versions_v3(const ApiRequest& request) {
  return json_response(200, {{"versions", Json::array({v3_version(request)})}});
}

}  // namespace rbdvol::service::cinder
