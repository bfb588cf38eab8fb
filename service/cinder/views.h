// Cinder's JSON views of the plugin's records (volume, snapshot,
// attachment), as the api-ref of block storage v3 names their fields.
#pragma once

#include <optional>
#include <string>

#include "service/cinder/volume_service.h"

namespace rbdvol::service::cinder {

inline constexpr uint64_t kGiB = uint64_t{1} << 30;

// Bytes to Cinder's whole GiB, rounded up.
uint64_t gib_of(uint64_t bytes);
// "2026-11-21T05:17:51Z" -> "2026-11-21T05:17:51.000000" (Cinder's form).
Json cinder_time(const std::string& iso);
// Now, in Cinder's form.
std::string cinder_now();

// The status a volume record implies when no long operation runs on it:
// "in-use" with an attached record, "attaching" with only reservations,
// else "available".
std::string status_of_record(const Json& record);

// The full volume (show, detail) from the plugin's record; `activity`
// overrides the status.
Json volume_view(const Call& call, const Json& record,
                 const std::optional<VolumeActivity>& activity);
// The short form of a list: id, name, links.
Json volume_summary(const Json& view);
Json links(const Call& call, const std::string& collection, const std::string& id);

// A snapshot from the plugin's snapshot record.
Json snapshot_view(const Call& call, const Json& record);

// A disk type as a volume type.
Json volume_type_view(const config::DiskType& type, const config::Config& config);
std::string volume_type_id(const std::string& name);

// An attachment id: stable for (volume, domain).
std::string attachment_id(const std::string& volume, const std::string& domain);

}  // namespace rbdvol::service::cinder
