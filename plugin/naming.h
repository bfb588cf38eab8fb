// How rbdvol names what it keeps in Ceph: RBD image names, ids, and the
// image-metadata keys that hold a volume's or an image's state.
#pragma once

#include <string>
#include <vector>

#include "status/status.h"

namespace rbdvol::plugin {

// A random (version 4) UUID in lower-case 8-4-4-4-12 form.
std::string new_uuid();
bool is_uuid(const std::string& s);

// Accepts "<uuid>" or "<prefix><uuid>" and returns the uuid. EINVAL names
// `what` ("volume", "image") and the bad value.
Result<std::string> uuid_from_id(const std::string& id, const std::string& prefix,
                                 const std::string& what);

inline const std::string kVolumePrefix = "volume-";
inline const std::string kImagePrefix = "image-";
// The protected snapshot every image carries; volumes are clones of it.
inline const std::string kImageSnapshot = "snap";

namespace meta {
inline const std::string kPrefix = "rbdvol.";
inline const std::string kName = "rbdvol.name";
inline const std::string kDiskType = "rbdvol.disk_type";
inline const std::string kSourceImage = "rbdvol.source_image";
inline const std::string kCreatedAt = "rbdvol.created_at";
// Features the volume had before multiattach turned some off, decimal.
inline const std::string kSavedFeatures = "rbdvol.saved_features";
// JSON array of attachment records; updated with a compare-and-swap on the
// image header object (see attachments.cc).
inline const std::string kAttachments = "rbdvol.attachments";
inline const std::string kImageFormat = "rbdvol.format";
inline const std::string kImageSourceSize = "rbdvol.source_size";
// "sha256:<hex>" of the image's raw content, as uploaded; copies carry it.
inline const std::string kImageChecksum = "rbdvol.checksum";
// The volume an image was made from (image.create_from_volume).
inline const std::string kImageSourceVolume = "rbdvol.source_volume";
// Set on an image whose data is still being transferred (image.copy,
// image.upload): what it is a copy of and who writes it. Removed before its
// protected snapshot is made, so clones never carry it.
inline const std::string kIncomplete = "rbdvol.incomplete";
}  // namespace meta

// "a, b, c" (or "(none)"): how messages list names, tags and features.
std::string name_list(const std::vector<std::string>& names);

// Seconds since the epoch as an ISO 8601 UTC text: "2026-11-21T05:17:51Z".
std::string utc_now_iso8601();

}  // namespace rbdvol::plugin
