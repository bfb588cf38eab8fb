// What rbdvol knows of a volume, read back from its RBD image: the answer of
// volume.show and volume.create, and the facts attach needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "plugin/ceph/env.h"
#include "plugin/records/catalog.h"

namespace rbdvol::plugin {

// RBD features a multiattach volume must not have: each writer would fight
// for the exclusive lock they need.
constexpr uint64_t kMultiattachForbiddenFeatures =
    feature::kExclusiveLock | feature::kObjectMap | feature::kFastDiff | feature::kJournaling;

// "layering", "exclusive-lock", ... for the bits set in `features`.
std::vector<std::string> feature_names(uint64_t features);

// Turns the forbidden features off and records the previous set in the
// image's metadata (kept from the first time, when it is already recorded).
Status disable_multiattach_features(RbdImage& image);

// The volume's record as a JSON object (see docs/driver-abi.md, volume.show).
Result<Json> volume_record(Driver& driver, const VolumeHandle& volume);

// The disk type called `name`; ENOENT lists the known ones.
Result<const config::DiskType*> disk_type_named(const config::Config& config,
                                                const std::string& name);

// The volume's disk type, from its metadata and the config. ENOENT when the
// volume has none or the config no longer knows it.
Result<const config::DiskType*> volume_disk_type(Driver& driver, RbdImage& image,
                                                 const std::string& volume_uuid);

}  // namespace rbdvol::plugin
