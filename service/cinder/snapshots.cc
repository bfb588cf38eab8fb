// /v3/snapshots: list, detail, create, show, delete.
#include "service/cinder/handlers.h"
#include "service/cinder/paging.h"
#include "service/cinder/views.h"
#include "service/cinder/volume_lookup.h"

namespace rbdvol::service::cinder {
namespace {

const std::string kSnapshotPrefix = "snapshot-";
const std::set<std::string> kFilterKeys = {"name", "status", "volume_id"};
const std::set<std::string> kSortKeys = {"id", "name", "status", "size", "created_at", "volume_id"};

// Every snapshot: one volume.list (its directory entries name each volume's
// snapshots), then snapshot.list for each volume that has one. `only` keeps the snapshot with that
// id (and stops early).
Result<Json> snapshot_records(VolumeService& service, const std::string& only) {
  ASSIGN_OR_RETURN(Json volumes, service.call("volume.list", Json::object()));
  Json records = Json::array();
  for (const auto& v : volumes.value("volumes", Json::array())) {
    // An entry written before the directory kept snapshots has none: ask.
    bool has = !v.contains("snapshots");
    for (const auto& s : v.value("snapshots", Json::array())) {
      const std::string name = s.value("name", "");
      if (only.empty() ? name.rfind(kSnapshotPrefix, 0) == 0 : name == kSnapshotPrefix + only) {
        has = true;
      }
    }
    if (!has) continue;
    auto list = service.call("snapshot.list", {{"volume", v.value("id", "")}});
    if (!list.ok()) {
      if (list.status().err() == ENOENT) continue;  // deleted meanwhile
      return list.status();
    }
    for (const auto& s : list->value("snapshots", Json::array())) {
      if (only.empty() || s.value("id", "") == only) records.push_back(s);
    }
    if (!only.empty() && !records.empty()) break;
  }
  return records;
}

Result<ApiResponse> list_snapshots(VolumeService& service, Call& call, bool detail) {
  ASSIGN_OR_RETURN(ListQuery query, parse_list_query(call.request, kFilterKeys, kSortKeys));
  ASSIGN_OR_RETURN(Json records, snapshot_records(service, ""));
  Json views = Json::array();
  for (const auto& r : records) views.push_back(snapshot_view(call, r));
  bool more = false;
  ASSIGN_OR_RETURN(Json page, page_items(std::move(views), query, &more));
  Json out = Json::array();
  for (auto& s : page) {
    out.push_back(detail ? s
                         : Json{{"id", s["id"]},
                                {"name", s["name"]},
                                {"volume_id", s["volume_id"]},
                                {"status", s["status"]},
                                {"size", s["size"]}});
  }
  Json body = {{"snapshots", out}};
  if (more && !out.empty()) {
    body["snapshots_links"] = next_links(call, "snapshots", query, out.back().value("id", ""));
  }
  return json_response(200, body);
}

}  // namespace

Result<ApiResponse> snapshots_list(VolumeService& service, Call& call) {
  return list_snapshots(service, call, false);
}

Result<ApiResponse> snapshots_detail(VolumeService& service, Call& call) {
  return list_snapshots(service, call, true);
}

Result<ApiResponse> snapshot_show(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "snapshot"));
  ASSIGN_OR_RETURN(Json records, snapshot_records(service, id));
  if (records.empty()) return Status::NotFound("snapshot " + id + " could not be found");
  return json_response(200, {{"snapshot", snapshot_view(call, records[0])}});
}

Result<ApiResponse> snapshot_create(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(Json s, body_object(call, "snapshot"));
  if (!s.contains("volume_id") || !s["volume_id"].is_string()) {
    return Status::Invalid("snapshot needs volume_id");
  }
  ASSIGN_OR_RETURN(std::string volume, checked_uuid(s["volume_id"].get<std::string>(), "volume"));
  ASSIGN_OR_RETURN(std::string name, optional_string(s, "name", 255));
  ASSIGN_OR_RETURN(std::string description, optional_string(s, "description", 255));
  bool force = false;
  if (s.contains("force") && !s["force"].is_null()) {
    if (s["force"].is_boolean()) {
      force = s["force"].get<bool>();
    } else if (s["force"].is_string()) {
      std::string f = s["force"].get<std::string>();
      if (f == "true" || f == "True" || f == "1")
        force = true;
      else if (f != "false" && f != "False" && f != "0")
        return Status::Invalid("force must be a boolean");
    } else {
      return Status::Invalid("force must be a boolean");
    }
  }
  ASSIGN_OR_RETURN(Json record, volume_record(service, volume));
  const std::string status = status_of_record(record);
  if (status != "available" && !force) {
    return Status::Invalid("volume " + volume + " is " + status +
                           "; a snapshot of an attached volume needs force");
  }
  Json request = {{"volume", volume}};
  if (!name.empty()) request["name"] = name;
  ASSIGN_OR_RETURN(Json made, service.call("snapshot.create", request));
  return json_response(202, {{"snapshot", snapshot_view(call, made)}});
}

Result<ApiResponse> snapshot_delete(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(call.rest[1], "snapshot"));
  ASSIGN_OR_RETURN(Json done, service.call("snapshot.delete", {{"id", id}}));
  if (done.value("already_gone", false)) {
    return Status::NotFound("snapshot " + id + " could not be found");
  }
  return ApiResponse{202, {}, ""};
}

}  // namespace rbdvol::service::cinder
