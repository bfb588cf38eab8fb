// How rbdvol names what it keeps in Ceph: RBD image names, ids, and the
// image-metadata keys that hold a volume's or an image's state.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "status/status.h"

namespace rbdvol::plugin {

// A random (version 4) UUID in lower-case 8-4-4-4-12 form, from the
// kernel's random generator. Throws (boost::uuids::entropy_error) only if
// the kernel gives no random bytes; the ABI's edge turns that into EIO.
std::string new_uuid();

// The longest name (of a volume, image or snapshot) in bytes.
inline constexpr size_t kMaxNameBytes = 255;
// EINVAL naming `what` ("volume", "image", "snapshot") and the fault when
// `name` is empty, longer than kMaxNameBytes, not UTF-8, or holds a control
// character (U+0000-U+001F, U+007F-U+009F).
Status check_name(const std::string& what, const std::string& name);
bool is_uuid(const std::string& s);

// Accepts "<uuid>" or "<prefix><uuid>" and returns the uuid. EINVAL names
// `what` ("volume", "image") and the bad value.
Result<std::string> uuid_from_id(const std::string& id, const std::string& prefix,
                                 const std::string& what);

inline const std::string kVolumePrefix = "volume-";
inline const std::string kImagePrefix = "image-";
// The protected snapshot of an image copy that volumes are clones of. Not
// made when the copy is written: the first volume.create that clones the copy
// makes and protects it (ensure_image_snapshot in rbd_image.h), because a
// snapshot costs a monitor commit (0.05-1 s) that a copy never cloned does
// not need. Readers of an image's bytes read it when it is there, else the
// image's head: the same bytes, since a complete copy is never written again.
inline const std::string kImageSnapshot = "snap";

namespace meta {
inline const std::string kPrefix = "rbdvol.";
inline const std::string kName = "rbdvol.name";
inline const std::string kDiskType = "rbdvol.disk_type";
inline const std::string kSourceImage = "rbdvol.source_image";
inline const std::string kCreatedAt = "rbdvol.created_at";
// Set by volume.update (a volume service's edits; docs/driver-abi.md).
inline const std::string kDescription = "rbdvol.description";
inline const std::string kUserMetadata = "rbdvol.metadata";  // JSON object of strings
inline const std::string kSourceSnapshot = "rbdvol.source_snapshot";
inline const std::string kSourceVolume = "rbdvol.source_volume";
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
// image.upload): what it is a copy of and who writes it. Removed before
// kComplete is set, so a complete copy never has it; image.copy never copies it.
inline const std::string kIncomplete = "rbdvol.incomplete";
// Set as the very last step of every producer of an image copy (image.upload,
// image.copy, image.create_from_volume), after its data, its other metadata,
// the removal of kIncomplete and the completion of its chunk record: the time
// (utc_now_iso8601) the copy was completed. An image copy is complete (listed,
// clonable, copyable, downloadable) if and only if it has this key; one
// without it is being written or was left half way. image.copy never copies
// it (the copy sets its own), and a volume never has it (volume.create drops
// the keys a clone inherits), so an image cloned from a volume is not listed
// before it is finished either.
inline const std::string kComplete = "rbdvol.complete";
// The features a streamed transfer's image had before its begin turned the
// lock features off (decimal), put back by its finish
// (transfer/image_transfer.h).
inline const std::string kTransferFeatures = "rbdvol.transfer_features";
// "<64 hex digits>": the SHA-256 of the image's whole content, when the
// transfer's finish was asked for it (hash "sha256").
inline const std::string kSha256 = "rbdvol.sha256";
}  // namespace meta

// "a, b, c" (or "(none)"): how messages list names, tags and features.
std::string name_list(const std::vector<std::string>& names);

// Seconds since the epoch as an ISO 8601 UTC text: "2026-11-21T05:17:51Z".
std::string utc_now_iso8601();

}  // namespace rbdvol::plugin
