// /v3/volumes: list, detail, create, show, update, delete, metadata.
#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>

#include "service/cinder/handlers.h"
#include "service/cinder/paging.h"
#include "service/cinder/views.h"
#include "service/cinder/volume_listing.h"
#include "service/cinder/volume_lookup.h"
#include "service/http_server.h"

namespace rbdvol::service::cinder {
namespace {

const std::set<std::string> kFilterKeys = {"name", "status", "bootable", "availability_zone"};
const std::set<std::string> kSortKeys = {"id",         "name",        "status",  "size",
                                         "created_at", "volume_type", "bootable"};

Result<ApiResponse> list_volumes(VolumeService& service, Call& call, bool detail) {
  ASSIGN_OR_RETURN(ListQuery query, parse_list_query(call.request, kFilterKeys, kSortKeys));
  ASSIGN_OR_RETURN(VolumePage page, list_volume_page(service, call, query));
  Json out = Json::array();
  for (auto& v : page.views) out.push_back(detail ? v : volume_summary(v));
  Json body = {{"volumes", out}};
  if (!page.next_marker.empty()) {
    body["volumes_links"] = next_links(call, "volumes", query, page.next_marker);
  }
  if (!page.unreachable.empty()) body["rbdvol:unreachable"] = page.unreachable;
  if (call.version.at_least(34) && call.request.param("with_count") == "true") {
    body["count"] = out.size();
  }
  return json_response(200, body);
}

// The name and description a create or an update sets (255 bytes, as Cinder).
Status read_texts(const Json& v, std::string* name, std::string* description) {
  ASSIGN_OR_RETURN(*name, optional_string(v, "name", 255));
  ASSIGN_OR_RETURN(*description, optional_string(v, "description", 255));
  if (!description->empty() && v.contains("display_description")) {
    return Status::Invalid("give description or display_description, not both");
  }
  return Status::Ok();
}

}  // namespace

const config::DiskType* find_type(const config::Config& config, const std::string& name_or_id) {
  for (const auto& t : config.disk_types) {
    if (t.name == name_or_id || volume_type_id(t.name) == name_or_id) return &t;
  }
  return nullptr;
}

const config::DiskType* default_type(const config::Config& config) {
  return config.disk_types.empty() ? nullptr : &config.disk_types.front();
}

Result<ApiResponse> volumes_list(VolumeService& service, Call& call) {
  return list_volumes(service, call, false);
}

Result<ApiResponse> volumes_detail(VolumeService& service, Call& call) {
  return list_volumes(service, call, true);
}

Result<ApiResponse> volume_show(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "volume"));
  ASSIGN_OR_RETURN(Json view, volume_view_of(service, call, id));
  return json_response(200, {{"volume", view}});
}

Result<ApiResponse> volume_create(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(Json v, body_object(call, "volume"));
  std::string name, description;
  RETURN_IF_ERROR(read_texts(v, &name, &description));
  ASSIGN_OR_RETURN(std::string type_name, optional_string(v, "volume_type", 255));
  ASSIGN_OR_RETURN(std::string image, optional_string(v, "imageRef", 255));
  ASSIGN_OR_RETURN(std::string snapshot, optional_string(v, "snapshot_id", 255));
  ASSIGN_OR_RETURN(std::string source_volume, optional_string(v, "source_volid", 255));
  ASSIGN_OR_RETURN(std::string zone, optional_string(v, "availability_zone", 255));
  ASSIGN_OR_RETURN(Json metadata, checked_metadata(v.value("metadata", Json())));
  if (!zone.empty() && zone != "nova") {
    return Status::Invalid("availability zone '" + printable(zone, 64) +
                           "' is invalid; the only zone is nova");
  }
  int sources = !image.empty() + !snapshot.empty() + !source_volume.empty();
  if (sources > 1) {
    return Status::Invalid("give at most one of imageRef, snapshot_id and source_volid");
  }
  std::optional<uint64_t> size;
  if (v.contains("size") && !v["size"].is_null()) {
    ASSIGN_OR_RETURN(size, size_gib(v["size"], "size"));
  } else if (sources == 0) {
    return Status::Invalid("size is required for a volume without a source");
  }
  const config::DiskType* type =
      type_name.empty() ? default_type(service.config()) : find_type(service.config(), type_name);
  if (!type) {
    return Status::NotFound("volume type " + printable(type_name, 64) +
                            " could not be found (types are the [disk_type:NAME] sections of " +
                            service.config().path + ")");
  }
  if (v.contains("multiattach") && v["multiattach"].is_boolean() && v["multiattach"].get<bool>() &&
      !type->multiattach) {
    return Status::Invalid("multiattach needs a multiattach volume type; " + type->name +
                           " is not");
  }
  Json request = {{"disk_type", type->name}};
  if (!name.empty()) request["name"] = name;
  if (size) request["size"] = std::to_string(*size) + "G";
  if (!image.empty()) request["image"] = image;
  if (!snapshot.empty()) {
    ASSIGN_OR_RETURN(snapshot, checked_uuid(snapshot, "snapshot"));
    request["snapshot"] = snapshot;
  }
  if (!source_volume.empty()) {
    ASSIGN_OR_RETURN(source_volume, checked_uuid(source_volume, "volume"));
    request["source_volume"] = source_volume;
  }
  // Placement and sources are checked before the answer, so that a bad
  // request is refused at once rather than becoming an error volume.
  Json dry = request;
  dry["dry_run"] = true;
  ASSIGN_OR_RETURN(Json plan, service.call("volume.create", dry));

  const std::string id = boost::uuids::to_string(boost::uuids::random_generator()());
  request["id"] = id;
  Json record = {{"id", id},
                 {"name", name},
                 {"description", description},
                 {"size", (size ? *size : gib_of(plan.value("size", uint64_t{0}))) * kGiB},
                 {"disk_type", type->name},
                 {"multiattach", type->multiattach},
                 {"backend", plan.value("backend", "")},
                 {"pool", plan.value("pool", "")},
                 {"source_image", plan.value("source_image", "")},
                 {"source_snapshot", snapshot},
                 {"source_volume", source_volume},
                 {"created_at", cinder_now()},
                 {"metadata", metadata},
                 {"attachments", Json::array()}};
  Json update = {{"id", id}};
  if (!description.empty()) update["description"] = description;
  if (!metadata.empty()) update["metadata"] = metadata;
  if (!snapshot.empty()) update["source_snapshot"] = snapshot;
  if (!source_volume.empty()) update["source_volume"] = source_volume;
  VolumeActivity creating;
  creating.status = "creating";
  creating.backend = plan.value("backend", "");
  creating.op = "create";
  creating.request = {{"create", request}, {"update", update}};
  creating.volume = record;  // the plugin's shape: views are made per call
  RETURN_IF_ERROR(service.start(id, creating));
  return json_response(202, {{"volume", volume_view(call, record, creating)}});
}

Result<ApiResponse> volume_update(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "volume"));
  ASSIGN_OR_RETURN(Json v, body_object(call, "volume"));
  Json update = {{"id", id}};
  if (v.contains("name") || v.contains("display_name")) {
    Json n = v.contains("name") ? v["name"] : v["display_name"];
    ASSIGN_OR_RETURN(std::string name, optional_string(Json{{"name", n}}, "name", 255));
    update["name"] = name;
  }
  if (v.contains("description") || v.contains("display_description")) {
    Json d = v.contains("description") ? v["description"] : v["display_description"];
    ASSIGN_OR_RETURN(std::string description,
                     optional_string(Json{{"description", d}}, "description", 255));
    update["description"] = description;
  }
  if (v.contains("metadata")) {
    ASSIGN_OR_RETURN(update["metadata"], checked_metadata(v["metadata"]));
  }
  ASSIGN_OR_RETURN(Json record, volume_record(service, id));
  (void)record;
  if (update.size() > 1) RETURN_IF_ERROR(service.call("volume.update", update).status());
  ASSIGN_OR_RETURN(Json view, volume_view_of(service, call, id));
  return json_response(200, {{"volume", view}});
}

Result<ApiResponse> volume_delete(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "volume"));
  const bool cascade =
      call.request.param("cascade") == "true" || call.request.param("cascade") == "True";
  ASSIGN_OR_RETURN(std::optional<VolumeActivity> activity, service.activity(id));
  if (activity) {
    if (activity->status == "deleting") return ApiResponse{202, {}, ""};  // a retry
    if (!activity->failed()) {
      return Status::Invalid("volume " + id + " is " + activity->status +
                             "; it can be deleted once that is over");
    }
    if (activity->op == "create") {
      // A create that failed: all or nothing, so nothing of it is in Ceph.
      auto record = service.call("volume.show", {{"id", id}});
      if (!record.ok() && record.status().err() == ENOENT) {
        RETURN_IF_ERROR(service.clear(id, *activity));
        return ApiResponse{202, {}, ""};
      }
    }
  }
  ASSIGN_OR_RETURN(Json record, volume_record(service, id));
  const std::string status = status_of_record(record);
  if (status != "available") {
    return Status::Invalid("volume " + id + " is " + status +
                           " (attached to a server); detach it first");
  }
  if (!cascade) {
    for (const auto& snap : record.value("snapshots", Json::array())) {
      if (snap.value("name", "").rfind("snapshot-", 0) == 0) {
        return Status::Invalid("volume " + id + " still has snapshots (" + snap.value("name", "") +
                               "); delete them first, or delete with cascade=true");
      }
    }
  }
  if (activity) RETURN_IF_ERROR(service.clear(id, *activity));
  VolumeActivity deleting;
  deleting.status = "deleting";
  deleting.backend = record.value("backend", "");
  deleting.op = "delete";
  deleting.request = {{"id", id}, {"cascade", cascade}};
  Status started = service.start(id, deleting);
  if (!started.ok()) {
    auto now = service.activity(id);
    if (now.ok() && *now && (*now)->status == "deleting") return ApiResponse{202, {}, ""};
    return started;
  }
  return ApiResponse{202, {}, ""};
}

Result<ApiResponse> volume_metadata_show(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "volume"));
  ASSIGN_OR_RETURN(Json view, volume_view_of(service, call, id));
  return json_response(200, {{"metadata", view["metadata"]}});
}

namespace {

Result<ApiResponse> set_metadata(VolumeService& service, Call& call, bool merge) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "volume"));
  if (!call.body.is_object() || !call.body.contains("metadata")) {
    return Status::Invalid("the request body must be {\"metadata\": {...}}");
  }
  ASSIGN_OR_RETURN(Json given, checked_metadata(call.body["metadata"]));
  ASSIGN_OR_RETURN(Json record, volume_record(service, id));
  Json metadata = merge ? record.value("metadata", Json::object()) : Json::object();
  if (!metadata.is_object()) metadata = Json::object();
  for (const auto& [k, v] : given.items()) metadata[k] = v;
  RETURN_IF_ERROR(service.call("volume.update", {{"id", id}, {"metadata", metadata}}).status());
  return json_response(200, {{"metadata", metadata}});
}

}  // namespace

Result<ApiResponse> volume_metadata_merge(VolumeService& service, Call& call) {
  return set_metadata(service, call, true);
}

Result<ApiResponse> volume_metadata_replace(VolumeService& service, Call& call) {
  return set_metadata(service, call, false);
}

Result<ApiResponse> volume_metadata_key_show(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "volume"));
  ASSIGN_OR_RETURN(Json record, volume_record(service, id));
  Json metadata = record.value("metadata", Json::object());
  const std::string& key = call.rest[3];
  if (!metadata.is_object() || !metadata.contains(key)) {
    return Status::NotFound("volume " + id + " has no metadata key " + printable(key, 64));
  }
  return json_response(200, {{"meta", {{key, metadata[key]}}}});
}

Result<ApiResponse> volume_metadata_key_delete(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "volume"));
  ASSIGN_OR_RETURN(Json record, volume_record(service, id));
  Json metadata = record.value("metadata", Json::object());
  const std::string& key = call.rest[3];
  if (!metadata.is_object() || !metadata.contains(key)) {
    return Status::NotFound("volume " + id + " has no metadata key " + printable(key, 64));
  }
  metadata.erase(key);
  RETURN_IF_ERROR(service.call("volume.update", {{"id", id}, {"metadata", metadata}}).status());
  return ApiResponse{200, {}, ""};
}

}  // namespace rbdvol::service::cinder
