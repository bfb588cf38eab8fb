// image.transfer_finish: completes a transfer's image once every chunk up to
// `size` is recorded: sets its size, its checksum from the chunk digests
// (chunk_list_checksum, as image.upload does), with hash "sha256" the SHA-256
// of its whole content (read back), puts its lock features back, and marks
// it complete last, as image.upload does, so that it is listed, clonable and
// copyable. A failure half way leaves the partial image for a retry (or
// image.delete); a finish of a complete image answers as the first did.
#include <algorithm>
#include <cstdlib>

#include "plugin/ceph/rbd_image.h"
#include "plugin/fault_injection.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"
#include "plugin/transfer/image_transfer.h"
#include "plugin/transfer/sha256.h"

namespace rbdvol::plugin {

namespace {

Json finish_answer(const Transfer& t, uint64_t size, const std::string& checksum,
                   const std::string& sha256) {
  return Json{{"id", t.uuid},
              {"backend", t.backend},
              {"size", size},
              {"checksum", checksum},
              {"hash_algo", sha256.empty() ? "" : "sha256"},
              {"hash_value", sha256}};
}

// The answer of a finish that completed the image before.
Result<Json> answer_again(const Transfer& t, RbdImage& image, uint64_t size) {
  ASSIGN_OR_RETURN(uint64_t actual, image_size(image));
  if (actual != size) {
    return Status::Invalid("image " + t.uuid + " is complete with " + std::to_string(actual) +
                           " bytes, not " + std::to_string(size));
  }
  auto checksum = metadata_get(image, meta::kImageChecksum);
  auto sha = metadata_get(image, meta::kSha256);
  return finish_answer(t, size, checksum.ok() ? *checksum : "", sha.ok() ? *sha : "");
}

// Each chunk up to `size` recorded, with the length an image of `size` bytes
// gives it, and no data recorded past it: the digests of its chunks.
Result<std::vector<std::optional<ChunkDigest>>> complete_digests(
    const Transfer& t, uint64_t size, std::vector<std::optional<ChunkDigest>> digests) {
  const uint64_t cs = t.header.chunk_size;
  const auto missing = missing_ranges(size, cs, digests);
  if (!missing.empty()) {
    uint64_t bytes = 0;
    for (const auto& r : missing) bytes += r.length;
    return Status::Error(EAGAIN, "image " + t.uuid + " misses " + std::to_string(bytes) +
                                     " bytes of its " + std::to_string(size) + ": write or zero " +
                                     range_list(missing) + ", then finish");
  }
  const uint64_t chunks = (size + cs - 1) / cs;
  for (uint64_t i = 0; i < digests.size(); ++i) {
    const auto& d = digests[i];
    if (!d) continue;
    if (i >= chunks) {
      if (d->zero) continue;
      return Status::Invalid("image " + t.uuid + " has data recorded at " +
                             std::to_string(d->offset) + ", past its size " + std::to_string(size));
    }
    const uint64_t expected = std::min(cs, size - i * cs);
    if (d->length != expected) {
      return Status::Invalid("chunk " + std::to_string(i) + " of image " + t.uuid + " holds " +
                             std::to_string(d->length) + " bytes, where an image of " +
                             std::to_string(size) + " bytes has " + std::to_string(expected) +
                             ": only the last chunk may be short");
    }
  }
  digests.resize(chunks);
  return digests;
}

// Puts back the lock features the begin turned off, in the order librbd
// needs, and rebuilds the object map, which was not kept while it was off.
Status restore_transfer_features(RbdImage& image, const std::string& label) {
  auto saved = metadata_get(image, meta::kTransferFeatures);
  if (!saved.ok()) return saved.status().err() == ENOENT ? Status::Ok() : saved.status();
  ASSIGN_OR_RETURN(uint64_t current, image_features(image));
  const uint64_t wanted =
      std::strtoull(saved->c_str(), nullptr, 10) & kMultiattachForbiddenFeatures & ~current;
  for (uint64_t step :
       {feature::kExclusiveLock, feature::kObjectMap | feature::kFastDiff, feature::kJournaling}) {
    const uint64_t on = wanted & step;
    if (on == 0) continue;
    Status s = image.update_features(on, true);
    if (!s.ok()) {
      return Status::Error(s.err(), "cannot turn " + name_list(feature_names(on)) + " of " + label +
                                        " back on: " + ceph_strerror(-s.err()));
    }
  }
  if (wanted & feature::kObjectMap) {
    Status s = image.rebuild_object_map();
    if (!s.ok()) return s.Prefixed("cannot rebuild the object map of " + label);
  }
  Status s = metadata_remove(image, meta::kTransferFeatures);
  if (!s.ok() && s.err() != ENOENT) return s;
  return Status::Ok();
}

}  // namespace

Result<Json> image_transfer_finish(Driver& driver, const Json& request, const Progress& progress) {
  ASSIGN_OR_RETURN(std::string id, required_string(request, "id"));
  ASSIGN_OR_RETURN(std::string backend, optional_string(request, "backend"));
  ASSIGN_OR_RETURN(uint64_t size, required_offset(request, "size"));
  ASSIGN_OR_RETURN(std::string hash, optional_string(request, "hash"));
  if (!hash.empty() && hash != "sha256") {
    return Status::Invalid("hash '" + hash + "' is not one rbdvol computes (only sha256)");
  }
  if (size == 0) return Status::Invalid("size must be more than 0");
  ASSIGN_OR_RETURN(Transfer t, find_transfer(driver, id, backend));
  {
    ASSIGN_OR_RETURN(ImagePtr image, open_image(*t.io, t.rbd_name, true));
    auto complete = metadata_get(*image, meta::kComplete);
    if (complete.ok()) return answer_again(t, *image, size);
    if (complete.status().err() != ENOENT) return complete.status();
  }
  if (t.header.transfer_size && size != t.header.transfer_size) {
    return Status::Invalid("size " + std::to_string(size) + " is not the size " +
                           std::to_string(t.header.transfer_size) + " image " + t.uuid +
                           "'s transfer began with");
  }
  ASSIGN_OR_RETURN(std::string writer, live_writer(*t.io, t.rbd_name));
  if (!writer.empty()) {
    return Status::Busy("image " + t.uuid + " is still being written (client " + writer +
                        "): finish it once its writes are done");
  }
  ASSIGN_OR_RETURN(auto recorded, read_chunk_digests(*t.io, t.rbd_name, t.header, true));
  ASSIGN_OR_RETURN(auto digests, complete_digests(t, size, std::move(recorded)));

  ASSIGN_OR_RETURN(ImagePtr image, open_image(*t.io, t.rbd_name, false));
  ASSIGN_OR_RETURN(uint64_t current, image_size(*image));
  if (current != size) {
    Status s = image->resize(size, true);
    if (!s.ok()) return s.Prefixed("cannot set the size of " + t.label);
  }
  ChunkRecordHeader header = t.header;
  header.size = size;
  RETURN_IF_ERROR(write_chunk_record_header(*t.io, t.rbd_name, header, false));
  const uint64_t cs = header.chunk_size;
  ASSIGN_OR_RETURN(std::string checksum, chunk_list_checksum(size, cs, digests));
  std::string sha256;
  if (hash == "sha256") {
    Sha256 sha;
    uint64_t done = 0;
    Status s = read_image_range(
        *image, 0, size, cs, [&](uint64_t offset) { return digests[offset / cs]->zero; },
        [&](const char* data, uint64_t len) {
          sha.update(data, len);
          done += len;
          progress("hash", done, size);
          return Status::Ok();
        });
    if (!s.ok()) return s.Prefixed("cannot hash " + t.label);
    sha256 = hex_of(sha.finish());
    RETURN_IF_ERROR(metadata_set(*image, meta::kSha256, sha256));
  }
  RETURN_IF_ERROR(restore_transfer_features(*image, t.label));
  Status s = metadata_remove(*image, meta::kIncomplete);
  if (!s.ok() && s.err() != ENOENT) return s;
  RETURN_IF_ERROR(complete_chunk_record(*t.io, t.rbd_name, header));
  for (const auto& [key, value] : {std::pair{meta::kImageFormat, std::string("raw")},
                                   std::pair{meta::kImageSourceSize, std::to_string(size)},
                                   std::pair{meta::kImageChecksum, checksum},
                                   std::pair{meta::kCreatedAt, utc_now_iso8601()}}) {
    RETURN_IF_ERROR(metadata_set(*image, key, value));
  }
  RETURN_IF_ERROR(inject_fault("image.transfer_finish:before-complete"));
  RETURN_IF_ERROR(metadata_set(*image, meta::kComplete, utc_now_iso8601()));
  return finish_answer(t, size, checksum, sha256);
}

}  // namespace rbdvol::plugin
