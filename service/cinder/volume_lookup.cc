#include "service/cinder/volume_lookup.h"

#include <set>

#include "service/cinder/views.h"
#include "service/http_server.h"

namespace rbdvol::service::cinder {

Result<std::string> checked_uuid(const std::string& id, const std::string& what) {
  bool ok = id.size() == 36;
  std::string lower = id;
  for (size_t i = 0; ok && i < id.size(); ++i) {
    char c = id[i];
    bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash) {
      ok = c == '-';
    } else if (c >= 'A' && c <= 'F') {
      lower[i] = static_cast<char>(c - 'A' + 'a');
    } else {
      ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
    }
  }
  if (!ok) return Status::NotFound(what + " " + printable(id, 80) + " could not be found");
  return lower;
}

Result<Json> volume_record(VolumeService& service, const std::string& id) {
  auto r = service.call("volume.show", {{"id", id}});
  if (!r.ok() && r.status().err() == ENOENT) {
    return Status::NotFound("volume " + id + " could not be found");
  }
  return r;
}

Result<Json> volume_view_of(VolumeService& service, const Call& call, const std::string& id) {
  ASSIGN_OR_RETURN(std::optional<VolumeActivity> activity, service.activity(id));
  if (activity && !activity->volume.is_null()) {
    // Being created (or its create failed): not in Ceph yet, not complete,
    // or not any more. The journal keeps the record as requested; the view
    // is made for this call's microversion, as every other. (Asking the
    // plugin here would open the half-made image at every poll.)
    return volume_view(call, activity->volume, activity);
  }
  // What the view needs is what a listing shows: read from the directory,
  // without opening the image (volume.show "brief").
  auto record = service.call("volume.show", {{"id", id}, {"brief", true}});
  if (!record.ok() && record.status().err() == ENOENT) {
    return Status::NotFound("volume " + id + " could not be found");
  }
  if (!record.ok()) return record.status();
  return volume_view(call, *record, activity);
}

Result<Json> all_volume_views(VolumeService& service, const Call& call, Json* unreachable) {
  ASSIGN_OR_RETURN(Json list, service.call("volume.list", Json::object()));
  ASSIGN_OR_RETURN(auto activities, service.activities());
  Json views = Json::array();
  std::set<std::string> seen;
  for (const auto& record : list.value("volumes", Json::array())) {
    std::string id = record.value("id", "");
    seen.insert(id);
    auto it = activities.find(id);
    std::optional<VolumeActivity> activity;
    if (it != activities.end()) activity = it->second;
    views.push_back(volume_view(call, record, activity));
  }
  for (const auto& [id, activity] : activities) {
    if (seen.count(id) || activity.volume.is_null()) continue;
    views.push_back(volume_view(call, activity.volume, activity));
  }
  *unreachable = list.value("unreachable", Json::array());
  return views;
}

Result<uint64_t> size_gib(const Json& value, const std::string& field) {
  uint64_t gib = 0;
  if (value.is_number_unsigned()) {
    gib = value.get<uint64_t>();
  } else if (value.is_number_integer()) {
    gib = 0;  // negative
  } else if (value.is_string()) {
    const std::string s = value.get<std::string>();
    if (s.empty() || s.size() > 12 || s.find_first_not_of("0123456789") != std::string::npos) {
      return Status::Invalid(field + " must be a whole number of GiB, got '" + printable(s, 40) +
                             "'");
    }
    gib = std::stoull(s);
  } else {
    return Status::Invalid(field + " must be a whole number of GiB");
  }
  if (gib == 0 || gib > 1000000) {
    return Status::Invalid(field +
                           " must be from 1 to 1000000 GiB (the largest RBD volume "
                           "rbdvol makes), got " +
                           value.dump());
  }
  return gib;
}

Result<std::string> optional_string(const Json& object, const std::string& field, size_t max) {
  auto it = object.find(field);
  if (it == object.end() || it->is_null()) return std::string();
  if (!it->is_string()) return Status::Invalid(field + " must be a string");
  std::string s = it->get<std::string>();
  if (s.size() > max) {
    return Status::Invalid(field + " is " + std::to_string(s.size()) + " bytes, more than " +
                           std::to_string(max));
  }
  return s;
}

Result<Json> checked_metadata(const Json& value) {
  if (value.is_null()) return Json::object();
  if (!value.is_object()) return Status::Invalid("metadata must be an object of strings");
  for (const auto& [key, v] : value.items()) {
    if (key.empty() || key.size() > 255) {
      return Status::Invalid("metadata keys must be 1 to 255 bytes");
    }
    if (!v.is_string() || v.get<std::string>().size() > 255) {
      return Status::Invalid("metadata value of '" + printable(key, 64) +
                             "' must be a string of at most 255 bytes");
    }
  }
  return value;
}

}  // namespace rbdvol::service::cinder
