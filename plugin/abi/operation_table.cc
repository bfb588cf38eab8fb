#include "plugin/abi/operation_table.h"

#include <map>
#include <set>

#include "plugin/ops/directory_sync.h"
#include "plugin/ops/operations.h"

namespace rbdvol::plugin {

Result<Json> call_operation(Driver& driver, const std::string& op, const Json& request,
                            const Progress& progress, DataStream* stream) {
  // Each operation, and what it changes of the volume and image directories
  // (ops/directory_sync.h). A streaming operation has `streams` in place of
  // `fn`; none changes a directory (image.transfer_finish, which completes
  // the image, is not one).
  struct Entry {
    Entry(Operation f, Touches t) : fn(f), touches(t) {}
    explicit Entry(StreamOperation s) : streams(s) {}
    Operation fn = nullptr;
    Touches touches = Touches::kNothing;
    StreamOperation streams = nullptr;
  };
  static const std::map<std::string, Entry> operations = {
      {"backend.list", {backend_list, Touches::kNothing}},
      {"image.upload", {image_upload, Touches::kImageFromAnswer}},
      {"image.list", {image_list, Touches::kNothing}},
      {"volume.create", {volume_create, Touches::kVolumeFromAnswer}},
      {"volume.show", {volume_show, Touches::kNothing}},
      {"volume.delete", {volume_delete, Touches::kVolumeRemoved}},
      {"volume.connection", {volume_connection, Touches::kNothing}},
      {"attachment.create", {attachment_create, Touches::kVolumeFromRequestVolume}},
      {"attachment.update", {attachment_update, Touches::kVolumeFromRequestVolume}},
      {"attachment.delete", {attachment_delete, Touches::kVolumeFromRequestVolume}},
      {"volume.list", {volume_list, Touches::kNothing}},
      {"volume.extend", {volume_extend, Touches::kVolumeFromRequest}},
      {"volume.retype", {volume_retype, Touches::kVolumeFromRequest}},
      {"snapshot.create", {snapshot_create, Touches::kVolumeFromRequestVolume}},
      {"snapshot.list", {snapshot_list, Touches::kNothing}},
      {"snapshot.delete", {snapshot_delete, Touches::kVolumeFromAnswerVolume}},
      {"snapshot.revert", {snapshot_revert, Touches::kVolumeFromAnswerVolume}},
      {"image.show", {image_show, Touches::kNothing}},
      {"image.copy", {image_copy, Touches::kImageFromAnswer}},
      {"image.delete", {image_delete, Touches::kImageRemoved}},
      {"image.partials", {image_partials, Touches::kNothing}},
      {"image.create_from_volume", {image_create_from_volume, Touches::kImageFromAnswer}},
      {"backend.show", {backend_show, Touches::kNothing}},
      {"backend.auth", {backend_auth, Touches::kNothing}},
      {"image.verify", {image_verify, Touches::kNothing}},
      {"image.download", {image_download, Touches::kNothing}},
      {"image.checksum", {image_checksum, Touches::kNothing}},
      {"backend.check", {backend_check, Touches::kNothing}},
      {"volume.update", {volume_update, Touches::kVolumeFromRequest}},
      {"journal.get", {journal_get, Touches::kNothing}},
      {"journal.list", {journal_list, Touches::kNothing}},
      {"journal.update", {journal_update, Touches::kNothing}},
      {"image.transfer_begin", {image_transfer_begin, Touches::kNothing}},
      {"image.write", Entry(image_write)},
      {"image.transfer_zero", {image_transfer_zero, Touches::kNothing}},
      {"image.transfer_status", {image_transfer_status, Touches::kNothing}},
      {"image.transfer_finish", {image_transfer_finish, Touches::kImageFromAnswer}},
      {"image.read", Entry(image_read)},
      {"ha.define", {ha_define, Touches::kNothing}},
      {"ha.list", {ha_list, Touches::kNothing}},
      {"ha.show", {ha_show, Touches::kNothing}},
      {"ha.undefine", {ha_undefine, Touches::kNothing}},
      {"ha.update", {ha_update, Touches::kNothing}},
      {"ha.report", {ha_report, Touches::kNothing}},
      {"ha.check", {ha_check, Touches::kNothing}},
      {"ha.lease_acquire", {ha_lease_acquire, Touches::kNothing}},
      {"ha.lease_release", {ha_lease_release, Touches::kNothing}},
      {"ha.fence", {ha_fence, Touches::kNothing}},
  };
  auto it = operations.find(op);
  if (it == operations.end()) {
    std::string known;
    for (const auto& [name, fn] : operations) known += (known.empty() ? "" : ", ") + name;
    return Status::Error(ENOSYS, "unknown operation '" + op + "' (known: " + known + ")");
  }
  // The operations that read local files only, and so run without a config.
  static const std::set<std::string> without_config = {"image.checksum"};
  if (!driver.configured() && without_config.count(op) == 0) {
    return Status::Invalid(op + " needs a config: the driver was opened without one");
  }
  if (!request.is_object()) {
    return Status::Invalid("the request of " + op + " must be a JSON object");
  }
  if (it->second.streams) {
    if (!stream) {
      return Status::Invalid(op + " streams data: call it through call_stream, not call");
    }
    return it->second.streams(driver, request, *stream, progress);
  }
  if (it->second.touches == Touches::kNothing) return it->second.fn(driver, request, progress);
  return with_directory(it->second.touches, it->second.fn, driver, request, progress);
}

}  // namespace rbdvol::plugin
