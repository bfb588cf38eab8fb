// volume.show: one volume's record.
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

Result<Json> volume_show(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto volume = locate_volume(driver, *id);
  if (!volume.ok()) return volume.status();
  return volume_record(driver, *volume);
}

}  // namespace rbdvol::plugin
