// /v3/types: the config's disk types, read-only.
#include "service/cinder/handlers.h"
#include "service/cinder/views.h"
#include "service/http_server.h"

namespace rbdvol::service::cinder {
namespace {

Result<const config::DiskType*> type_of(VolumeService& service, const std::string& name_or_id) {
  const config::DiskType* type = find_type(service.config(), name_or_id);
  if (!type) {
    return Status::NotFound("volume type " + printable(name_or_id, 64) + " could not be found");
  }
  return type;
}

}  // namespace

Result<ApiResponse> types_list(VolumeService& service, Call&) {
  Json types = Json::array();
  for (const auto& t : service.config().disk_types) {
    types.push_back(volume_type_view(t, service.config()));
  }
  return json_response(200, {{"volume_types", types}});
}

Result<ApiResponse> type_show(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(const config::DiskType* type, type_of(service, call.rest[1]));
  return json_response(200, {{"volume_type", volume_type_view(*type, service.config())}});
}

Result<ApiResponse> type_default(VolumeService& service, Call&) {
  const config::DiskType* type = default_type(service.config());
  if (!type) return Status::NotFound("no default volume type: the config defines no disk type");
  return json_response(200, {{"volume_type", volume_type_view(*type, service.config())}});
}

Result<ApiResponse> type_extra_specs(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(const config::DiskType* type, type_of(service, call.rest[1]));
  return json_response(200,
                       {{"extra_specs", volume_type_view(*type, service.config())["extra_specs"]}});
}

Result<ApiResponse> type_extra_spec(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(const config::DiskType* type, type_of(service, call.rest[1]));
  Json specs = volume_type_view(*type, service.config())["extra_specs"];
  const std::string& key = call.rest[3];
  if (!specs.contains(key)) {
    return Status::NotFound("volume type " + type->name + " has no extra spec " +
                            printable(key, 64));
  }
  return json_response(200, {{key, specs[key]}});
}

Result<ApiResponse> types_read_only(VolumeService& service, Call&) {
  return Status::Error(EACCES,
                       "volume types are read-only here: they are the [disk_type:NAME] "
                       "sections of " +
                           service.config().path +
                           " (docs/config.md); edit the config and restart rbdvold");
}

}  // namespace rbdvol::service::cinder
