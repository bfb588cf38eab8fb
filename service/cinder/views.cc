#include "service/cinder/views.h"

#include <ctime>

namespace rbdvol::service::cinder {

namespace {

Json or_null(const std::string& s) { return s.empty() ? Json(nullptr) : Json(s); }

// A text field of a record: "" when absent, null or not a string (a record
// the journal kept may hold nulls), never an exception.
std::string text(const Json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t bytes(const Json& record, const char* key) {
  auto it = record.find(key);
  return it != record.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

}  // namespace

uint64_t gib_of(uint64_t bytes) { return (bytes + kGiB - 1) / kGiB; }

Json cinder_time(const std::string& iso) {
  if (iso.empty()) return nullptr;
  std::string t = iso;
  if (!t.empty() && t.back() == 'Z') t.pop_back();
  if (t.find('.') == std::string::npos) t += ".000000";
  return t;
}

std::string cinder_now() {
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char out[40];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%S.000000", &tm);
  return out;
}

std::string status_of_record(const Json& record) {
  bool any = false;
  for (const auto& a : record.value("attachments", Json::array())) {
    any = true;
    if (a.value("state", "") == "attached") return "in-use";
  }
  return any ? "attaching" : "available";
}

Json links(const Call& call, const std::string& collection, const std::string& id) {
  const std::string base = call.request.base_url;
  std::string project = call.project_id.empty() ? "" : "/" + call.project_id;
  return Json::array(
      {{{"rel", "self"}, {"href", base + "/v3" + project + "/" + collection + "/" + id}},
       {{"rel", "bookmark"}, {"href", base + project + "/" + collection + "/" + id}}});
}

Json volume_view(const Call& call, const Json& record,
                 const std::optional<VolumeActivity>& activity) {
  const std::string id = text(record, "id");
  Json attachments = Json::array();
  Json records = record.value("attachments", Json::array());
  for (const auto& a : records.is_array() ? records : Json::array()) {
    const std::string domain = text(a, "domain");
    const std::string aid = attachment_id(id, domain);
    attachments.push_back({{"id", aid},
                           {"attachment_id", aid},
                           {"volume_id", id},
                           {"server_id", domain},
                           {"host_name", nullptr},
                           {"device", text(a, "target_dev")},
                           {"attached_at", cinder_time(text(a, "since"))}});
  }
  const std::string type = text(record, "disk_type");
  const std::string source_image = text(record, "source_image");
  Json metadata = record.value("metadata", Json::object());
  if (!metadata.is_object()) metadata = Json::object();
  Json description = record.contains("description") && record["description"].is_string() &&
                             !record["description"].get<std::string>().empty()
                         ? record["description"]
                         : Json(nullptr);
  const std::string name = text(record, "name");
  Json v = {
      {"id", id},
      {"name", name.empty() ? Json(nullptr) : Json(name)},
      {"status", activity ? activity->status : status_of_record(record)},
      {"size", gib_of(bytes(record, "size"))},
      {"availability_zone", "nova"},
      {"created_at", cinder_time(text(record, "created_at"))},
      {"updated_at", nullptr},
      {"description", description},
      {"volume_type", type.empty() ? Json(nullptr) : Json(type)},
      {"snapshot_id", or_null(text(record, "source_snapshot"))},
      {"source_volid", or_null(text(record, "source_volume"))},
      {"metadata", metadata},
      {"links", links(call, "volumes", id)},
      {"user_id", call.request.header("x-user-id").empty()
                      ? Json(nullptr)
                      : Json(call.request.header("x-user-id"))},
      {"bootable", source_image.empty() ? "false" : "true"},
      {"encrypted", false},
      {"replication_status", nullptr},
      {"consistencygroup_id", nullptr},
      {"multiattach", record.value("multiattach", false)},
      {"attachments", attachments},
      {"migration_status", nullptr},
      {"os-vol-tenant-attr:tenant_id", call.project_id.empty() ? "admin" : call.project_id},
      {"os-vol-host-attr:host",
       text(record, "backend").empty()
           ? Json(nullptr)
           : Json("rbdvold@" + text(record, "backend") + "#" + text(record, "pool"))},
      {"os-vol-mig-status-attr:migstat", nullptr},
      {"os-vol-mig-status-attr:name_id", nullptr},
  };
  if (!source_image.empty()) v["volume_image_metadata"] = {{"image_id", source_image}};
  if (call.version.at_least(13)) v["group_id"] = nullptr;
  if (call.version.at_least(21)) v["provider_id"] = nullptr;
  if (call.version.at_least(48)) {
    v["service_uuid"] = nullptr;
    v["shared_targets"] = false;
  }
  if (call.version.at_least(61)) v["cluster_name"] = nullptr;
  if (call.version.at_least(63)) {
    v["volume_type_id"] = type.empty() ? Json(nullptr) : Json(volume_type_id(type));
  }
  if (call.version.at_least(65)) v["consumes_quota"] = true;
  if (activity && !activity->message.empty() && activity->status.rfind("error", 0) == 0) {
    v["rbdvol:error"] = activity->message;
  }
  return v;
}

Json volume_summary(const Json& view) {
  return {{"id", view["id"]}, {"name", view["name"]}, {"links", view["links"]}};
}

Json snapshot_view(const Call& call, const Json& record) {
  const std::string name = text(record, "name");
  const std::string description = text(record, "description");
  Json s = {
      {"id", text(record, "id")},
      {"name", name.empty() ? Json(nullptr) : Json(name)},
      {"description", description.empty() ? Json(nullptr) : Json(description)},
      {"status", record.value("status", "available")},
      {"size", gib_of(bytes(record, "size"))},
      {"created_at", cinder_time(text(record, "created_at"))},
      {"updated_at", nullptr},
      {"volume_id", text(record, "volume")},
      {"metadata", Json::object()},
      {"os-extended-snapshot-attributes:progress", "100%"},
      {"os-extended-snapshot-attributes:project_id",
       call.project_id.empty() ? "admin" : call.project_id},
  };
  if (call.version.at_least(14)) s["group_snapshot_id"] = nullptr;
  if (call.version.at_least(41)) s["user_id"] = nullptr;
  if (call.version.at_least(65)) s["consumes_quota"] = true;
  return s;
}

std::string volume_type_id(const std::string& name) {
  return stable_uuid("rbdvol disk type " + name);
}

Json volume_type_view(const config::DiskType& type, const config::Config& config) {
  std::string tags;
  for (const auto& t : type.tags) tags += (tags.empty() ? "" : ",") + t;
  Json specs = {{"rbdvol:tags", tags},
                {"rbdvol:cache", type.cache},
                {"rbdvol:image_store", type.image_store}};
  if (type.multiattach) specs["multiattach"] = "<is> True";
  std::string backends;
  for (const auto& b : config.backends) {
    if (config::backend_matches(b, type.tags)) backends += (backends.empty() ? "" : ",") + b.id;
  }
  specs["rbdvol:backends"] = backends;
  return {{"id", volume_type_id(type.name)},
          {"name", type.name},
          {"description", "disk type " + type.name + " of " + config.path},
          {"is_public", true},
          {"os-volume-type-access:is_public", true},
          {"qos_specs_id", nullptr},
          {"extra_specs", specs}};
}

std::string attachment_id(const std::string& volume, const std::string& domain) {
  return stable_uuid("rbdvol attachment " + volume + "\n" + domain);
}

}  // namespace rbdvol::service::cinder
