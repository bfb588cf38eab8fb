// Copying an image into another backend's image pool.
#pragma once

#include "plugin/catalog.h"

namespace rbdvol::plugin {

// Copies `image` from a backend that holds it into `target`'s image pool as
// the same image-<uuid> with its protected snapshot, all or nothing (a copy
// that fails half way is removed). Returns where the copy is.
Result<ImageLocation> copy_image_to_backend(Driver& driver, const ImageRecord& image,
                                            Cluster& target, const Progress& progress);

}  // namespace rbdvol::plugin
