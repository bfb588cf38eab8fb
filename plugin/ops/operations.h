// The operations a host calls through the ABI, one file each. Requests and
// answers are documented in docs/driver-abi.md.
#pragma once

#include "plugin/driver.h"

namespace rbdvol::plugin {

using Operation = Result<Json> (*)(Driver&, const Json& request, const Progress&);
// An operation that streams data in or out (the ABI's call_stream).
using StreamOperation = Result<Json> (*)(Driver&, const Json& request, DataStream&,
                                         const Progress&);

Result<Json> backend_list(Driver&, const Json& request, const Progress&);
Result<Json> image_upload(Driver&, const Json& request, const Progress&);
Result<Json> image_list(Driver&, const Json& request, const Progress&);
Result<Json> volume_create(Driver&, const Json& request, const Progress&);
Result<Json> volume_show(Driver&, const Json& request, const Progress&);
Result<Json> volume_delete(Driver&, const Json& request, const Progress&);
Result<Json> volume_connection(Driver&, const Json& request, const Progress&);
Result<Json> attachment_create(Driver&, const Json& request, const Progress&);
Result<Json> attachment_update(Driver&, const Json& request, const Progress&);
Result<Json> attachment_delete(Driver&, const Json& request, const Progress&);
Result<Json> volume_list(Driver&, const Json& request, const Progress&);
Result<Json> volume_extend(Driver&, const Json& request, const Progress&);
Result<Json> volume_retype(Driver&, const Json& request, const Progress&);
Result<Json> snapshot_create(Driver&, const Json& request, const Progress&);
Result<Json> snapshot_list(Driver&, const Json& request, const Progress&);
Result<Json> snapshot_delete(Driver&, const Json& request, const Progress&);
Result<Json> snapshot_revert(Driver&, const Json& request, const Progress&);
Result<Json> image_show(Driver&, const Json& request, const Progress&);
Result<Json> image_copy(Driver&, const Json& request, const Progress&);
Result<Json> image_delete(Driver&, const Json& request, const Progress&);
Result<Json> image_partials(Driver&, const Json& request, const Progress&);
Result<Json> image_create_from_volume(Driver&, const Json& request, const Progress&);
Result<Json> backend_show(Driver&, const Json& request, const Progress&);
Result<Json> backend_auth(Driver&, const Json& request, const Progress&);
Result<Json> image_verify(Driver&, const Json& request, const Progress&);
Result<Json> image_download(Driver&, const Json& request, const Progress&);
Result<Json> image_checksum(Driver&, const Json& request, const Progress&);
Result<Json> backend_check(Driver&, const Json& request, const Progress&);
// Streaming transfers into and out of an image (ops/image/image_transfer_*.cc,
// image_write.cc, image_read.cc).
Result<Json> image_transfer_begin(Driver&, const Json& request, const Progress&);
Result<Json> image_write(Driver&, const Json& request, DataStream&, const Progress&);
Result<Json> image_transfer_zero(Driver&, const Json& request, const Progress&);
Result<Json> image_transfer_status(Driver&, const Json& request, const Progress&);
Result<Json> image_transfer_finish(Driver&, const Json& request, const Progress&);
Result<Json> image_read(Driver&, const Json& request, DataStream&, const Progress&);
// ops/service/: what a volume service (rbdvold) needs beyond the command's.
Result<Json> volume_update(Driver&, const Json& request, const Progress&);
Result<Json> journal_get(Driver&, const Json& request, const Progress&);
Result<Json> journal_list(Driver&, const Json& request, const Progress&);
Result<Json> journal_update(Driver&, const Json& request, const Progress&);
// ops/ha/: the HA of a domain on a volume (rbdvol ha).
Result<Json> ha_define(Driver&, const Json& request, const Progress&);
Result<Json> ha_list(Driver&, const Json& request, const Progress&);
Result<Json> ha_show(Driver&, const Json& request, const Progress&);
Result<Json> ha_undefine(Driver&, const Json& request, const Progress&);
Result<Json> ha_update(Driver&, const Json& request, const Progress&);
Result<Json> ha_report(Driver&, const Json& request, const Progress&);
Result<Json> ha_check(Driver&, const Json& request, const Progress&);
Result<Json> ha_lease_acquire(Driver&, const Json& request, const Progress&);
Result<Json> ha_lease_release(Driver&, const Json& request, const Progress&);
Result<Json> ha_fence(Driver&, const Json& request, const Progress&);

}  // namespace rbdvol::plugin
