// POST /v3/volumes/{id}/action: os-extend, os-retype, revert (3.40), and
// the bookkeeping actions clients send around an attach.
#include "service/cinder/handlers.h"
#include "service/cinder/views.h"
#include "service/cinder/volume_lookup.h"
#include "service/glance/glance_api.h"
#include "service/http_server.h"

namespace rbdvol::service::cinder {
namespace {

// Records the operation in the volume's backend journal (a failure an
// earlier operation left is cleared first) and runs it in the background.
Result<ApiResponse> in_background(VolumeService& service, const std::string& id, const Json& record,
                                  const std::string& status, const std::string& op,
                                  const Json& request) {
  ASSIGN_OR_RETURN(std::optional<VolumeActivity> now, service.activity(id));
  if (now && now->failed()) RETURN_IF_ERROR(service.clear(id, *now));
  VolumeActivity activity;
  activity.status = status;
  activity.backend = record.value("backend", "");
  activity.op = op;
  activity.request = request;
  RETURN_IF_ERROR(service.start(id, activity));
  return ApiResponse{202, {}, ""};
}

// The volume's type as Cinder shows it in an action's answer (null when
// its disk type is gone from the config).
Json type_of(VolumeService& service, const Json& record) {
  const config::DiskType* type = find_type(service.config(), record.value("disk_type", ""));
  return type ? volume_type_view(*type, service.config()) : Json();
}

}  // namespace

Result<ApiResponse> volume_action(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "volume"));
  if (!call.body.is_object() || call.body.size() != 1) {
    return Status::Invalid("an action body is one object: {\"os-extend\": {...}}");
  }
  const std::string action = call.body.begin().key();
  const Json& args = call.body.begin().value();
  ASSIGN_OR_RETURN(Json record, volume_record(service, id));
  const std::string status = status_of_record(record);

  if (action == "os-extend") {
    if (!args.is_object() || !args.contains("new_size")) {
      return Status::Invalid("os-extend needs new_size (GiB)");
    }
    ASSIGN_OR_RETURN(uint64_t gib, size_gib(args["new_size"], "new_size"));
    if (status != "available" && !call.version.at_least(42)) {
      return Status::Invalid("volume " + id + " is " + status +
                             "; extending an attached volume needs microversion 3.42");
    }
    const uint64_t current = record.value("size", uint64_t{0});
    if (gib * kGiB <= current) {
      return Status::Invalid("new size " + std::to_string(gib) +
                             " GiB must be larger than the "
                             "current " +
                             std::to_string(gib_of(current)) + " GiB (volumes only grow)");
    }
    return in_background(service, id, record, "extending", "volume.extend",
                         {{"id", id}, {"size", std::to_string(gib) + "G"}});
  }
  if (action == "os-retype") {
    if (!args.is_object() || !args.contains("new_type") || !args["new_type"].is_string()) {
      return Status::Invalid("os-retype needs new_type");
    }
    const config::DiskType* type = find_type(service.config(), args["new_type"].get<std::string>());
    if (!type) {
      return Status::NotFound("volume type " + printable(args["new_type"].get<std::string>(), 64) +
                              " could not be found");
    }
    if (status != "available") {
      return Status::Invalid("volume " + id + " is " + status + "; retype needs it detached");
    }
    return in_background(service, id, record, "retyping", "volume.retype",
                         {{"id", id}, {"disk_type", type->name}});
  }
  if (action == "revert") {
    if (!call.version.at_least(40)) {
      return Status::NotFound("revert needs microversion 3.40 or later");
    }
    if (!args.is_object() || !args.contains("snapshot_id") || !args["snapshot_id"].is_string()) {
      return Status::Invalid("revert needs snapshot_id");
    }
    ASSIGN_OR_RETURN(std::string snap,
                     checked_uuid(args["snapshot_id"].get<std::string>(), "snapshot"));
    ASSIGN_OR_RETURN(Json list, service.call("snapshot.list", {{"volume", id}}));
    bool found = false;
    for (const auto& s : list.value("snapshots", Json::array())) found |= s.value("id", "") == snap;
    if (!found) return Status::Invalid("snapshot " + snap + " is not a snapshot of volume " + id);
    if (status != "available") {
      return Status::Invalid("volume " + id + " is " + status + "; revert needs it detached");
    }
    return in_background(service, id, record, "reverting", "snapshot.revert", {{"id", snap}});
  }
  if (action == "os-volume_upload_image") {
    if (!args.is_object() || !args.contains("image_name") || !args["image_name"].is_string()) {
      return Status::Invalid("os-volume_upload_image needs image_name");
    }
    if (!service.images()) {
      return Status::Error(EOPNOTSUPP, "this rbdvold serves no image API (image_listen = off)");
    }
    const std::string disk_format = args.value("disk_format", std::string("raw"));
    if (disk_format != "raw") {
      return Status::Invalid("disk_format " + printable(disk_format, 32) +
                             " is not supported: images made from volumes are raw");
    }
    const bool force = args.value("force", false);
    if (status != "available" && !(status == "in-use" && force)) {
      return Status::Invalid("volume " + id + " is " + status +
                             "; upload to image needs it available (or in-use with force)");
    }
    const std::string name = args["image_name"].get<std::string>();
    ASSIGN_OR_RETURN(std::string image_id, glance::start_image_from_volume(
                                               *service.images(), id, name, force,
                                               args.value("visibility", std::string("shared")),
                                               args.value("protected", false)));
    Json answer = {{"id", id},
                   {"updated_at", nullptr},
                   {"status", "uploading"},
                   {"display_description", record.value("description", Json())},
                   {"size", gib_of(record.value("size", uint64_t{0}))},
                   {"volume_type", type_of(service, record)},
                   {"image_id", image_id},
                   {"container_format", "bare"},
                   {"disk_format", "raw"},
                   {"image_name", name}};
    return json_response(202, {{"os-volume_upload_image", answer}});
  }
  // What clients send around a Nova-style attach; the attachment API (3.27)
  // is where rbdvold records attachments, so these only check the volume.
  if (action == "os-reserve" || action == "os-unreserve" || action == "os-begin_detaching" ||
      action == "os-roll_detaching") {
    return ApiResponse{202, {}, ""};
  }
  return Status::Invalid("there is no such action: " + printable(action, 64));
}

}  // namespace rbdvol::service::cinder
