// The backends as Cinder's pools and volume services, and the one zone.
#include "service/cinder/handlers.h"
#include "service/cinder/views.h"

namespace rbdvol::service::cinder {

Result<ApiResponse> pools_list(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(Json list, service.call("backend.list", Json::object()));
  const bool detail =
      call.request.param("detail") == "true" || call.request.param("detail") == "True";
  Json pools = Json::array();
  for (const auto& b : list.value("backends", Json::array())) {
    const std::string id = b.value("id", "");
    Json pool = {{"name", "rbdvold@" + id + "#" + b.value("volume_pool", "")}};
    if (detail) {
      const bool up = b.value("state", "") == "up";
      auto gb = [](uint64_t bytes) {
        return static_cast<double>(bytes) / static_cast<double>(kGiB);
      };
      bool multiattach = false;
      for (const auto& t : service.config().disk_types) {
        const config::Backend* be = service.config().find_backend(id);
        if (be && t.multiattach && config::backend_matches(*be, t.tags)) multiattach = true;
      }
      pool["capabilities"] = {
          {"pool_name", b.value("volume_pool", "")},
          {"volume_backend_name", id},
          {"vendor_name", "rbdvol"},
          {"driver_version", "0.1.0"},
          {"storage_protocol", "ceph"},
          {"total_capacity_gb",
           up ? Json(gb(b.value("total_bytes", uint64_t{0}))) : Json("unknown")},
          {"free_capacity_gb", up ? Json(gb(b.value("free_bytes", uint64_t{0}))) : Json("unknown")},
          {"allocated_capacity_gb", up ? Json(gb(b.value("used_bytes", uint64_t{0}))) : Json(0)},
          {"reserved_percentage", 0},
          {"thin_provisioning_support", true},
          {"multiattach", multiattach},
          {"timestamp", cinder_now()},
          {"rbdvol:tags", b.value("tags", Json::array())},
          {"rbdvol:weight", b.value("weight", 1.0)},
          {"rbdvol:state", b.value("state", "")},
      };
      if (!up) pool["capabilities"]["rbdvol:error"] = b.value("error", "");
    }
    pools.push_back(pool);
  }
  return json_response(200, {{"pools", pools}});
}

Result<ApiResponse> services_list(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(Json list, service.call("backend.list", Json::object()));
  const std::string binary = call.request.param("binary");
  Json services = Json::array();
  if (binary.empty() || binary == "cinder-volume") {
    for (const auto& b : list.value("backends", Json::array())) {
      const bool up = b.value("state", "") == "up";
      Json s = {{"binary", "cinder-volume"},
                {"host", "rbdvold@" + b.value("id", "")},
                {"zone", "nova"},
                {"status", "enabled"},
                {"state", up ? "up" : "down"},
                {"updated_at", cinder_now()},
                {"disabled_reason", nullptr}};
      if (call.version.at_least(7)) s["cluster"] = nullptr;
      if (call.version.at_least(49)) s["backend_state"] = up ? "up" : "down";
      if (!up) s["rbdvol:error"] = b.value("error", "");
      services.push_back(s);
    }
  }
  return json_response(200, {{"services", services}});
}

Result<ApiResponse> availability_zones(VolumeService&, Call&) {
  return json_response(
      200, {{"availabilityZoneInfo",
             Json::array({{{"zoneName", "nova"}, {"zoneState", {{"available", true}}}}})}});
}

}  // namespace rbdvol::service::cinder
