// The Cinder v3 endpoints, one function each (docs/rest-api.md). Each gets
// the call with `rest` = the path after /v3[/project]; ids in the path are
// rest[1], rest[3].
#pragma once

#include "service/cinder/volume_service.h"

namespace rbdvol::service::cinder {

// versions.cc
ApiResponse versions_root(const ApiRequest& request);
ApiResponse versions_v3(const ApiRequest& request);

// volumes.cc
Result<ApiResponse> volumes_list(VolumeService&, Call&);
Result<ApiResponse> volumes_detail(VolumeService&, Call&);
Result<ApiResponse> volume_create(VolumeService&, Call&);
Result<ApiResponse> volume_show(VolumeService&, Call&);
Result<ApiResponse> volume_update(VolumeService&, Call&);
Result<ApiResponse> volume_delete(VolumeService&, Call&);
Result<ApiResponse> volume_metadata_show(VolumeService&, Call&);
Result<ApiResponse> volume_metadata_merge(VolumeService&, Call&);
Result<ApiResponse> volume_metadata_replace(VolumeService&, Call&);
Result<ApiResponse> volume_metadata_key_show(VolumeService&, Call&);
Result<ApiResponse> volume_metadata_key_delete(VolumeService&, Call&);

// volume_actions.cc: os-extend, os-retype, revert, ...
Result<ApiResponse> volume_action(VolumeService&, Call&);

// snapshots.cc
Result<ApiResponse> snapshots_list(VolumeService&, Call&);
Result<ApiResponse> snapshots_detail(VolumeService&, Call&);
Result<ApiResponse> snapshot_create(VolumeService&, Call&);
Result<ApiResponse> snapshot_show(VolumeService&, Call&);
Result<ApiResponse> snapshot_delete(VolumeService&, Call&);

// volume_types.cc
Result<ApiResponse> types_list(VolumeService&, Call&);
Result<ApiResponse> type_show(VolumeService&, Call&);
Result<ApiResponse> type_default(VolumeService&, Call&);
Result<ApiResponse> type_extra_specs(VolumeService&, Call&);
Result<ApiResponse> type_extra_spec(VolumeService&, Call&);
Result<ApiResponse> types_read_only(VolumeService&, Call&);

// attachments.cc (3.27 and later)
Result<ApiResponse> attachments_list(VolumeService&, Call&);
Result<ApiResponse> attachments_detail(VolumeService&, Call&);
Result<ApiResponse> attachment_create(VolumeService&, Call&);
Result<ApiResponse> attachment_show(VolumeService&, Call&);
Result<ApiResponse> attachment_update(VolumeService&, Call&);
Result<ApiResponse> attachment_action(VolumeService&, Call&);
Result<ApiResponse> attachment_delete(VolumeService&, Call&);

// backends.cc
Result<ApiResponse> pools_list(VolumeService&, Call&);
Result<ApiResponse> services_list(VolumeService&, Call&);
Result<ApiResponse> availability_zones(VolumeService&, Call&);

// The disk type named (by name or by its volume type id), or nullptr.
const config::DiskType* find_type(const config::Config& config, const std::string& name_or_id);
// The disk type a create without volume_type gets: the first in the file.
const config::DiskType* default_type(const config::Config& config);

}  // namespace rbdvol::service::cinder
