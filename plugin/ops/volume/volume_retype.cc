// volume.retype: gives a volume another disk type on the same backend, while
// it is detached. Between a multiattach type and another, the RBD features
// that need a single writer are turned off (and the previous set kept), or
// turned back on to what they were.
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/ops/volume/volume_in_use.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"

#include <cstdlib>

namespace rbdvol::plugin {

namespace {

// Turns back on the features multiattach turned off, in the order librbd
// needs (exclusive-lock before object-map/fast-diff and journaling), and
// rebuilds the object map, which was not kept up to date while it was off.
Status restore_saved_features(RbdImage& image) {
  auto saved = metadata_get(image, meta::kSavedFeatures);
  if (!saved.ok()) return saved.status().err() == ENOENT ? Status::Ok() : saved.status();
  auto current = image_features(image);
  if (!current.ok()) return current.status();
  const uint64_t wanted =
      std::strtoull(saved->c_str(), nullptr, 10) & kMultiattachForbiddenFeatures & ~*current;
  const uint64_t steps[] = {feature::kExclusiveLock, feature::kObjectMap | feature::kFastDiff,
                            feature::kJournaling};
  for (uint64_t step : steps) {
    const uint64_t on = wanted & step;
    if (on == 0) continue;
    int r = as_errno(image.update_features(on, true));
    if (r < 0) {
      return Status::Error(
          r, "cannot turn on " + name_list(feature_names(on)) + ": " + ceph_strerror(r));
    }
  }
  if (wanted & feature::kObjectMap) {
    int r = as_errno(image.rebuild_object_map());
    if (r < 0) return Status::Error(r, "cannot rebuild the object map: " + ceph_strerror(r));
  }
  int r = as_errno(image.metadata_remove(meta::kSavedFeatures));
  if (r < 0 && r != -ENOENT) {
    return Status::Error(
        r, "cannot remove metadata " + meta::kSavedFeatures + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

}  // namespace

Result<Json> volume_retype(Driver& driver, const Json& request, const Progress&) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto type_name = required_string(request, "disk_type");
  if (!type_name.ok()) return type_name.status();
  auto found_type = disk_type_named(driver.config(), *type_name);
  if (!found_type.ok()) return found_type.status();
  const config::DiskType* type = *found_type;
  auto volume = locate_volume(driver, *id);
  if (!volume.ok()) return volume.status();
  const config::Backend& backend = volume->cluster->backend();
  const std::string where = "volume " + volume->uuid + " on backend " + backend.id;
  if (!config::backend_matches(backend, type->tags)) {
    return Status::Invalid(where + ": disk type '" + type->name + "' needs tags " +
                           name_list(type->tags) + " and backend " + backend.id + " has " +
                           name_list(backend.tags) +
                           "; retype does not move volumes between backends");
  }
  Status idle = require_not_in_use(*volume->io, volume->rbd_name, where, "retype it");
  if (!idle.ok()) return idle;

  auto image = open_image(*volume->io, volume->rbd_name, false);
  if (!image.ok()) return image.status().Prefixed(where);
  auto old_type = metadata_get(**image, meta::kDiskType);
  if (!old_type.ok() && old_type.status().err() != ENOENT) return old_type.status().Prefixed(where);
  auto before = image_features(**image);
  if (!before.ok()) return before.status().Prefixed(where);
  Status s =
      type->multiattach ? disable_multiattach_features(**image) : restore_saved_features(**image);
  if (s.ok()) s = metadata_set(**image, meta::kDiskType, type->name);
  if (!s.ok()) return s.Prefixed(where);
  auto after = image_features(**image);
  if (!after.ok()) return after.status().Prefixed(where);
  return Json{{"id", volume->uuid},
              {"backend", backend.id},
              {"old_disk_type", old_type.ok() ? *old_type : ""},
              {"disk_type", type->name},
              {"multiattach", type->multiattach},
              {"features", feature_names(*after)},
              {"features_enabled", feature_names(*after & ~*before)},
              {"features_disabled", feature_names(*before & ~*after)}};
}

}  // namespace rbdvol::plugin
