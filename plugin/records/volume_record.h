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

// What the volume directory (directory.h) keeps of a volume: the fields of
// its record that a listing shows and filters on, and do not depend on where
// it is or on the config: id, name, size, disk_type, source_image,
// created_at, attachments, description, metadata, source_snapshot,
// source_volume (what a volume service's detailed listing shows), status
// ("in-use" with attachments, else "available"), snapshots (the user
// snapshots of the record's "snapshots", snapshot-<uuid>).
Json volume_directory_entry(const Json& record);

// A listing's item from a directory entry of `cluster`'s volume pool: the
// entry with backend, pool, image, and the disk type's multiattach and cache.
Json volume_listing_item(Driver& driver, const Cluster& cluster, const Json& entry);

// The directory entries of every volume in `io` (the volume pool of
// `cluster`), each read from its image: the slow way, one image open per
// volume, that fills a directory on first use. A volume removed meanwhile is
// left out.
Result<std::vector<Json>> scan_volume_pool(Driver& driver, Cluster& cluster, Pool& io);

// The disk type called `name`; ENOENT lists the known ones.
Result<const config::DiskType*> disk_type_named(const config::Config& config,
                                                const std::string& name);

// The volume's disk type, from its metadata and the config. ENOENT when the
// volume has none or the config no longer knows it.
Result<const config::DiskType*> volume_disk_type(Driver& driver, RbdImage& image,
                                                 const std::string& volume_uuid);

}  // namespace rbdvol::plugin
