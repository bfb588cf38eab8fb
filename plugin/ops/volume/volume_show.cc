// volume.show: one volume's record; with "brief", what a listing shows of
// it, read from its backend's directory without opening the image.
#include "plugin/ops/directory_sync.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"

namespace rbdvol::plugin {

Result<Json> volume_show(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  ASSIGN_OR_RETURN(bool brief, optional_bool(request, "brief", false));
  if (brief) {
    // What a listing shows, from the directory; the whole record (which
    // opens the image) when the directory cannot answer.
    auto uuid = uuid_from_id(*id, kVolumePrefix, "volume");
    if (!uuid.ok()) return uuid.status();
    auto item = find_volume_in_directory(driver, *uuid);
    if (item.ok()) return item;
  }
  auto volume = locate_volume(driver, *id);
  if (!volume.ok()) return volume.status();
  return volume_record(driver, *volume);
}

}  // namespace rbdvol::plugin
