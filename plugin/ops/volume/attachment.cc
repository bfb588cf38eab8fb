// attachment.create / attachment.update / attachment.delete: the records of
// which guests a volume is attached to, in the manner of Cinder's attachment
// API. The host reserves an attachment before it touches the guest, marks it
// attached with the target dev after, and deletes it on detach (or when the
// attach failed).
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/attachments.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

Result<Json> volume_connection_info(Driver& driver, const VolumeHandle& volume);

namespace {

struct Target {
  VolumeHandle volume;
  std::string domain;
};

Result<Target> target_of(Driver& driver, const Json& request) {
  auto id = required_string(request, "volume");
  if (!id.ok()) return id.status();
  auto domain = required_string(request, "domain");
  if (!domain.ok()) return domain.status();
  auto volume = locate_volume(driver, *id);
  if (!volume.ok()) return volume.status();
  return Target{std::move(volume).value(), *domain};
}

Json::iterator find_domain(Json& records, const std::string& domain) {
  for (auto it = records.begin(); it != records.end(); ++it) {
    if (it->value("domain", "") == domain) return it;
  }
  return records.end();
}

}  // namespace

Result<Json> attachment_create(Driver& driver, const Json& request, const Progress&) {
  auto target = target_of(driver, request);
  if (!target.ok()) return target.status();
  auto& volume = target->volume;
  const std::string& domain = target->domain;
  auto image = open_image(*volume.io, volume.rbd_name, true);
  if (!image.ok()) return image.status();
  auto type = volume_disk_type(driver, **image, volume.uuid);
  if (!type.ok()) return type.status();
  const bool multiattach = (*type)->multiattach;
  auto records = update_attachments(*volume.io, **image, [&](Json& records) -> Status {
    if (find_domain(records, domain) != records.end()) {
      return Status::Exists("volume " + volume.uuid + " is already attached to domain " + domain);
    }
    if (!multiattach && !records.empty()) {
      return Status::Busy("volume " + volume.uuid + " (disk type " + (*type)->name +
                          ", not multiattach) is already attached to domain " +
                          records.front().value("domain", "?") +
                          "; it can be attached to one domain only");
    }
    records.push_back({{"domain", domain},
                       {"state", "attaching"},
                       {"target_dev", ""},
                       {"since", utc_now_iso8601()}});
    return Status::Ok();
  });
  if (!records.ok()) return records.status();
  auto connection = volume_connection_info(driver, volume);
  if (!connection.ok()) {
    // Give the reservation back: the caller cannot attach without the info.
    auto released = update_attachments(*volume.io, **image, [&](Json& r) {
      auto it = find_domain(r, domain);
      if (it != r.end()) r.erase(it);
      return Status::Ok();
    });
    if (!released.ok()) {
      return Status::Error(
          connection.status().err(),
          connection.status().message() + "; giving back the reservation of " + domain +
              " failed too, its attachment record stays: " + released.status().message());
    }
    return connection.status();
  }
  return Json{{"volume", volume.uuid},
              {"domain", domain},
              {"attachments", *records},
              {"connection", *connection}};
}

Result<Json> attachment_update(Driver& driver, const Json& request, const Progress&) {
  auto target = target_of(driver, request);
  if (!target.ok()) return target.status();
  auto target_dev = optional_string(request, "target_dev");
  if (!target_dev.ok()) return target_dev.status();
  auto& volume = target->volume;
  auto image = open_image(*volume.io, volume.rbd_name, true);
  if (!image.ok()) return image.status();
  auto records = update_attachments(*volume.io, **image, [&](Json& records) -> Status {
    auto it = find_domain(records, target->domain);
    if (it == records.end()) {
      return Status::NotFound("volume " + volume.uuid + " has no attachment to domain " +
                              target->domain);
    }
    (*it)["state"] = "attached";
    (*it)["target_dev"] = *target_dev;
    return Status::Ok();
  });
  if (!records.ok()) return records.status();
  return Json{{"volume", volume.uuid}, {"domain", target->domain}, {"attachments", *records}};
}

Result<Json> attachment_delete(Driver& driver, const Json& request, const Progress&) {
  auto target = target_of(driver, request);
  if (!target.ok()) return target.status();
  auto& volume = target->volume;
  auto image = open_image(*volume.io, volume.rbd_name, true);
  if (!image.ok()) return image.status();
  bool removed = false;
  auto records = update_attachments(*volume.io, **image, [&](Json& records) {
    auto it = find_domain(records, target->domain);
    removed = it != records.end();
    if (removed) records.erase(it);
    return Status::Ok();
  });
  if (!records.ok()) return records.status();
  return Json{{"volume", volume.uuid},
              {"domain", target->domain},
              {"removed", removed},
              {"attachments", *records}};
}

}  // namespace rbdvol::plugin
