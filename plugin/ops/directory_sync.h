// Keeping each backend's directories of volumes and images
// (records/directory.h) after what the operations change, and reading them
// for the listings.
//
// The operation table (abi/operation_table.cc) says for each operation that
// changes a volume or an image what it changes; `with_directory` runs the
// operation and then brings the entries of what it touched up to date from
// the RBD images themselves (a removal that failed keeps its entry). A
// listing shows only the entries whose RBD image its pool holds, so that what
// is being removed, or was removed by a process that died before its
// refresh, is never listed. A directory update that fails does not undo the operation (it
// happened): the answer carries a "warnings" item naming it, and `backend.check` reports and
// repairs the difference.
#pragma once

#include <string>
#include <vector>

#include "plugin/driver.h"
#include "plugin/ops/operations.h"

namespace rbdvol::plugin {

// What an operation changes, for the directory.
enum class Touches {
  kNothing,
  kVolumeFromAnswer,         // answer "id" (volume.create; nothing on dry_run), and the
                             // entries of its source image when it copied the image
                             // into the volume's backend (or failed, having perhaps done so)
  kVolumeFromRequest,        // request "id" (extend, retype, update)
  kVolumeFromRequestVolume,  // request "volume" (attachment.*, snapshot.create)
  kVolumeFromAnswerVolume,   // answer "volume" (snapshot.revert, snapshot.delete)
  kVolumeRemoved,            // request "id" (volume.delete)
  kImageFromAnswer,          // answer "id" (image.upload, image.copy, image.create_from_volume)
  kImageRemoved,             // request "id" and "backend" (image.delete)
};

Result<Json> with_directory(Touches touches, Operation op, Driver& driver, const Json& request,
                            const Progress& progress);

// Brings volume `uuid`'s entry up to date from its image in every backend
// that answers: written where the volume is, dropped where it is not.
Status sync_volume_entry(Driver& driver, const std::string& uuid);
// Brings image `uuid`'s entries up to date: one per backend holding a
// complete copy, none elsewhere.
Status sync_image_entries(Driver& driver, const std::string& uuid);

// The clusters a listing asks: every backend, or the one named `backend`
// (ENOENT naming the known ones when it is not enabled).
Result<std::vector<Cluster*>> listed_clusters(Driver& driver, const std::string& backend);

// Volume `uuid`'s listing item (volume_listing_item), from the directory of
// the backend whose pool holds its image: one entry read and one read of
// rbd_directory per backend, no image opened. ENOENT when no backend that
// answered has an entry for it (not in a directory yet, or gone); other
// errors when a backend did not answer and none had it.
Result<Json> find_volume_in_directory(Driver& driver, const std::string& uuid);

// The listing items (volume_listing_item) of `cluster`'s volumes, from its
// directory (built on first use).
Result<std::vector<Json>> list_volume_directory(Driver& driver, Cluster& cluster);
// The directory entries of `cluster`'s complete image copies.
Result<std::vector<Json>> list_image_directory(Cluster& cluster);

}  // namespace rbdvol::plugin
