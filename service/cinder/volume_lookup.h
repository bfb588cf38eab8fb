// Finding a volume for the API: the plugin's record, or what this process
// knows of a volume being created, and Cinder's view of either.
#pragma once

#include <string>

#include "service/cinder/volume_service.h"

namespace rbdvol::service::cinder {

// `id` when it is a uuid (either case, answered lower case); otherwise
// ENOENT "volume ID could not be found", as Cinder answers for any id it
// does not know (hostile ids included: they are never passed on).
Result<std::string> checked_uuid(const std::string& id, const std::string& what);

// The plugin's record of a volume (volume.show).
Result<Json> volume_record(VolumeService& service, const std::string& id);

// Cinder's view of volume `id`: what its directory entry holds, with the
// status of a long operation running on it, or the requested volume while
// it is created.
Result<Json> volume_view_of(VolumeService& service, const Call& call, const std::string& id);

// Every volume: the plugin's list plus the volumes being created here.
// `unreachable` receives the backends that could not be listed.
Result<Json> all_volume_views(VolumeService& service, const Call& call, Json* unreachable);

// Size in GiB from a JSON value: a positive integer, or its digits as a
// string; at most 1000000 (the plugin's largest volume). EINVAL otherwise.
Result<uint64_t> size_gib(const Json& value, const std::string& field);

// An optional string field: absent or null gives "", else a string of at
// most `max` bytes, or EINVAL naming the field.
Result<std::string> optional_string(const Json& object, const std::string& field, size_t max);

// A metadata object: string keys (1..255 bytes) to string values (up to
// 255 bytes); EINVAL otherwise.
Result<Json> checked_metadata(const Json& value);

}  // namespace rbdvol::service::cinder
