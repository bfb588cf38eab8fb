#include "plugin/abi/operation_table.h"

#include <map>
#include <set>

#include "plugin/ops/operations.h"

namespace rbdvol::plugin {

Result<Json> call_operation(Driver& driver, const std::string& op, const Json& request,
                            const Progress& progress) {
  static const std::map<std::string, Operation> operations = {
      {"backend.list", backend_list},
      {"image.upload", image_upload},
      {"image.list", image_list},
      {"volume.create", volume_create},
      {"volume.show", volume_show},
      {"volume.delete", volume_delete},
      {"volume.connection", volume_connection},
      {"attachment.create", attachment_create},
      {"attachment.update", attachment_update},
      {"attachment.delete", attachment_delete},
      {"volume.list", volume_list},
      {"volume.extend", volume_extend},
      {"volume.retype", volume_retype},
      {"snapshot.create", snapshot_create},
      {"snapshot.list", snapshot_list},
      {"snapshot.delete", snapshot_delete},
      {"snapshot.revert", snapshot_revert},
      {"image.show", image_show},
      {"image.copy", image_copy},
      {"image.delete", image_delete},
      {"image.partials", image_partials},
      {"image.create_from_volume", image_create_from_volume},
      {"backend.show", backend_show},
      {"backend.auth", backend_auth},
      {"image.verify", image_verify},
      {"image.download", image_download},
      {"image.checksum", image_checksum},
      {"backend.check", backend_check},
      {"volume.update", volume_update},
      {"journal.get", journal_get},
      {"journal.list", journal_list},
      {"journal.update", journal_update},
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
  return it->second(driver, request, progress);
}

}  // namespace rbdvol::plugin
