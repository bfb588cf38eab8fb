// /v3/attachments (3.27+): the plugin's attachment records, the same ones
// `rbdvol attach` keeps in Ceph. An attachment is a (volume, domain) pair;
// the domain is the request's instance_uuid; its id is a stable uuid of
// the pair (views.h), found again by scanning the volumes' records.
#include "service/cinder/handlers.h"
#include "service/cinder/paging.h"
#include "service/cinder/views.h"
#include "service/cinder/volume_lookup.h"
#include "service/http_server.h"

namespace rbdvol::service::cinder {
namespace {

struct Attachment {
  std::string id, volume, domain, state, target_dev, since;
};

Json attachment_view(const Attachment& a, const Json& connection_info, bool detail) {
  Json v = {{"id", a.id},
            {"status", a.state == "attached" ? "attached" : "attaching"},
            {"instance", a.domain},
            {"volume_id", a.volume}};
  if (!detail) return v;
  v["attached_at"] = a.state == "attached" ? cinder_time(a.since) : Json("");
  v["detached_at"] = "";
  v["attach_mode"] = "rw";
  v["connection_info"] = connection_info.is_null() ? Json::object() : connection_info;
  return v;
}

// Cinder's flat connection info of an attachment: the RBD driver's data
// with driver_volume_type beside it. Never a key: the secret's uuid only.
Json connection_info(const Json& connection, const std::string& attachment) {
  return {{"driver_volume_type", "rbd"},
          {"name", connection.value("name", "")},
          {"hosts", connection.value("hosts", Json::array())},
          {"ports", connection.value("ports", Json::array())},
          {"cluster_name", "ceph"},
          {"auth_enabled", connection.value("auth_enabled", true)},
          {"auth_username", connection.value("auth_username", "")},
          {"secret_type", connection.value("secret_type", "ceph")},
          {"secret_uuid", connection.value("secret_uuid", "")},
          {"volume_id", connection.value("volume_id", "")},
          {"discard", true},
          {"qos_specs", nullptr},
          {"access_mode", "rw"},
          {"encrypted", false},
          {"attachment_id", attachment}};
}

Result<std::vector<Attachment>> all_attachments(VolumeService& service) {
  ASSIGN_OR_RETURN(Json list, service.call("volume.list", Json::object()));
  std::vector<Attachment> out;
  for (const auto& v : list.value("volumes", Json::array())) {
    const std::string volume = v.value("id", "");
    for (const auto& a : v.value("attachments", Json::array())) {
      const std::string domain = a.value("domain", "");
      out.push_back({attachment_id(volume, domain), volume, domain, a.value("state", ""),
                     a.value("target_dev", ""), a.value("since", "")});
    }
  }
  return out;
}

Result<Attachment> find_attachment(VolumeService& service, const std::string& raw_id) {
  ASSIGN_OR_RETURN(std::string id, checked_uuid(raw_id, "attachment"));
  ASSIGN_OR_RETURN(std::vector<Attachment> all, all_attachments(service));
  for (auto& a : all) {
    if (a.id == id) return a;
  }
  return Status::NotFound("attachment " + id + " could not be found");
}

Result<ApiResponse> list_attachments(VolumeService& service, Call& call, bool detail) {
  ASSIGN_OR_RETURN(ListQuery query,
                   parse_list_query(call.request, {"volume_id", "instance_id", "status"},
                                    {"id", "volume_id", "status", "instance"}));
  for (auto& f : query.filters) {
    if (f.first == "instance_id") f.first = "instance";
  }
  if (query.sort.size() == 2 && query.sort[0].first == "created_at") query.sort = {{"id", true}};
  ASSIGN_OR_RETURN(std::vector<Attachment> all, all_attachments(service));
  Json views = Json::array();
  for (const auto& a : all) views.push_back(attachment_view(a, Json(), detail));
  bool more = false;
  ASSIGN_OR_RETURN(Json page, page_items(std::move(views), query, &more));
  Json body = {{"attachments", page}};
  if (more && !page.empty()) {
    body["attachments_links"] = next_links(call, "attachments", query, page.back().value("id", ""));
  }
  return json_response(200, body);
}

}  // namespace

Result<ApiResponse> attachments_list(VolumeService& service, Call& call) {
  return list_attachments(service, call, false);
}

Result<ApiResponse> attachments_detail(VolumeService& service, Call& call) {
  return list_attachments(service, call, true);
}

Result<ApiResponse> attachment_show(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(Attachment a, find_attachment(service, call.rest[1]));
  return json_response(200, {{"attachment", attachment_view(a, Json(), true)}});
}

Result<ApiResponse> attachment_create(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(Json body, body_object(call, "attachment"));
  if (!body.contains("volume_uuid") || !body["volume_uuid"].is_string()) {
    return Status::Invalid("attachment needs volume_uuid");
  }
  ASSIGN_OR_RETURN(std::string volume,
                   checked_uuid(body["volume_uuid"].get<std::string>(), "volume"));
  ASSIGN_OR_RETURN(std::string instance, optional_string(body, "instance_uuid", 255));
  if (instance.empty()) {
    return Status::Invalid("attachment needs instance_uuid: the server (libvirt domain) it is for");
  }
  for (char c : instance) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return Status::Invalid("instance_uuid has a control character");
    }
  }
  const bool with_connector =
      body.contains("connector") && body["connector"].is_object() && !body["connector"].empty();
  if (body.contains("connector") && !body["connector"].is_null() &&
      !body["connector"].is_object()) {
    return Status::Invalid("connector must be an object");
  }
  ASSIGN_OR_RETURN(std::optional<VolumeActivity> activity, service.activity(volume));
  if (activity) {
    return Status::Invalid("volume " + volume + " is " + activity->status +
                           "; it cannot be attached now");
  }
  ASSIGN_OR_RETURN(Json made,
                   service.call("attachment.create", {{"volume", volume}, {"domain", instance}}));
  Attachment a{attachment_id(volume, instance), volume, instance, "attaching", "", ""};
  Json info = with_connector ? connection_info(made.value("connection", Json::object()), a.id)
                             : Json::object();
  Json view = attachment_view(a, info, true);
  if (!with_connector) view["status"] = "reserved";
  return json_response(200, {{"attachment", view}});
}

Result<ApiResponse> attachment_update(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(Json body, body_object(call, "attachment"));
  if (!body.contains("connector") || !body["connector"].is_object()) {
    return Status::Invalid("attachment update needs a connector object");
  }
  ASSIGN_OR_RETURN(Attachment a, find_attachment(service, call.rest[1]));
  ASSIGN_OR_RETURN(Json connection, service.call("volume.connection", {{"id", a.volume}}));
  return json_response(
      200, {{"attachment", attachment_view(a, connection_info(connection, a.id), true)}});
}

Result<ApiResponse> attachment_action(VolumeService& service, Call& call) {
  if (!call.body.is_object() || !call.body.contains("os-complete")) {
    return Status::Invalid("the attachment action must be os-complete");
  }
  ASSIGN_OR_RETURN(Attachment a, find_attachment(service, call.rest[1]));
  std::string device;
  const Json& args = call.body["os-complete"];
  if (args.is_object() && args.contains("device") && args["device"].is_string()) {
    device = args["device"].get<std::string>();
  }
  RETURN_IF_ERROR(service
                      .call("attachment.update",
                            {{"volume", a.volume}, {"domain", a.domain}, {"target_dev", device}})
                      .status());
  return ApiResponse{204, {}, ""};
}

Result<ApiResponse> attachment_delete(VolumeService& service, Call& call) {
  ASSIGN_OR_RETURN(Attachment a, find_attachment(service, call.rest[1]));
  ASSIGN_OR_RETURN(Json done,
                   service.call("attachment.delete", {{"volume", a.volume}, {"domain", a.domain}}));
  Json left = Json::array();
  for (const auto& r : done.value("attachments", Json::array())) {
    Attachment o{attachment_id(a.volume, r.value("domain", "")),
                 a.volume,
                 r.value("domain", ""),
                 r.value("state", ""),
                 r.value("target_dev", ""),
                 r.value("since", "")};
    left.push_back(attachment_view(o, Json(), true));
  }
  return json_response(200, {{"attachments", left}});
}

}  // namespace rbdvol::service::cinder
