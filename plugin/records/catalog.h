// Finding volumes and images across every enabled backend. Ceph is the source
// of truth: there is no other index.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "plugin/driver.h"
#include "plugin/transfer/chunk_record.h"

namespace rbdvol::plugin {

struct VolumeHandle {
  Cluster* cluster = nullptr;
  PoolPtr io;  // the backend's volume pool
  std::string uuid;
  std::string rbd_name;  // "volume-<uuid>"
};

// A new volume or image id (`prefix` kVolumePrefix or kImagePrefix) that
// names nothing yet: EEXIST, naming the backend, when "<prefix><uuid>"
// already exists in the volume (or image) pool of a reachable backend. Ids
// are random (new_uuid), so that answer means a broken random generator, not
// bad luck; a backend that does not answer is not searched. A host that
// picks the id itself (volume.create's `id`, so it can answer before the
// volume exists) passes it as `chosen`: the same check, with EEXIST then
// meaning the host reused an id.
Result<std::string> new_unused_id(Driver& driver, const std::string& prefix,
                                  const std::string& chosen = "");

// The backend that holds volume `id` ("<uuid>" or "volume-<uuid>"). ENOENT
// names the volume and, when some backend did not answer, which.
Result<VolumeHandle> locate_volume(Driver& driver, const std::string& id);

struct ImageLocation {
  std::string backend;
  std::string pool;
  std::string rbd_name;
};

struct ImageRecord {
  std::string id;  // uuid
  std::string name;
  uint64_t size = 0;
  std::string format;      // of the uploaded file: "raw" or "qcow2" (stored as raw)
  std::string checksum;    // rbdvol.checksum (image.checksum); "" when not recorded
  std::string created_at;  // when its first listed copy was completed (rbdvol.complete)
  std::vector<ImageLocation> locations;  // backends holding a complete copy
};

struct ImageCatalog {
  std::vector<ImageRecord> images;                               // sorted by name, then id
  std::vector<std::pair<std::string, std::string>> unreachable;  // backend, error
  // Images a reachable backend holds but whose record could not be read.
  struct Unreadable {
    std::string backend;
    std::string id;
    std::string error;
  };
  std::vector<Unreadable> unreadable;
};

// Every image (an "image-<uuid>" with rbdvol.complete, naming.h) in every
// backend's image pool. Copies still being written, or left half way (no
// rbdvol.complete), are not listed.
// With `only_uuid`, just that image is looked for (one probe per backend).
ImageCatalog list_image_catalog(Driver& driver, const std::string& only_uuid = "");

// Resolves an image id ("<uuid>", "image-<uuid>") or a unique image name to
// its record. ENOENT / EINVAL (ambiguous name) with a clear message. A name
// is looked up in the backends' image directories (directory.h), then each
// image it names is probed like an id: a few round trips per backend,
// whatever the pool holds.
Result<ImageRecord> find_image(Driver& driver, const std::string& id_or_name);

// What the image directory keeps of one complete copy: id, name, size,
// format, checksum, created_at. A listing adds its location.
Json image_directory_entry(const ImageRecord& rec);

// The directory entries of every complete image copy in `io` (the image pool
// of `cluster`), each read from its image: the slow way that fills a
// directory on first use. Partial copies are left out, as listings leave
// them out.
Result<std::vector<Json>> scan_image_pool(Cluster& cluster, Pool& io);

// The complete copy of image `uuid` in `io`'s pool (where.backend's image
// pool); nullopt when the pool holds none or only a partial one.
Result<std::optional<ImageRecord>> read_image_copy(Pool& io, const std::string& uuid,
                                                   const ImageLocation& where);

// The request's optional "backend" naming one copy of an image: "" when it is
// absent, else the id of an enabled backend (ENOENT names the enabled ones).
Result<std::string> optional_backend(Driver& driver, const Json& request);

// The answer form of an image: id, name, size, format, locations.
Json image_record_json(const ImageRecord& rec);

// What `io`'s pool has of image-<uuid>: nothing, a partial copy (no
// rbdvol.complete: being written, or left by a run that died), or a complete
// copy. One image open.
enum class CopyState { kNone, kPartial, kComplete };
Result<CopyState> image_copy_state(Pool& io, const std::string& uuid);

// A partial image: an image-<uuid> without rbdvol.complete in a backend's
// image pool. An upload or a copy is writing it, or one died and left it
// (`resume` continues it: image.upload, image.copy).
struct PartialImage {
  std::string id;  // uuid
  ImageLocation where;
  uint64_t size = 0;
  std::string incomplete;  // rbdvol.incomplete: what, by whom, since when; "" unset
  // "upload" or "copy" (from rbdvol.incomplete), "transfer" (its record's
  // source: transfer/image_transfer.h), "" when unknown.
  std::string kind;
  std::optional<ChunkRecordHeader> record;  // none: its writer died (or is) before writing one
  uint64_t record_version = 0;              // of the record object, when read (claim_chunk_record)
  uint64_t chunks_confirmed = 0;            // chunks the record holds
  // Whether its writer still runs: the record's owner (owner_is_running);
  // of a transfer, whether a client has it open for writing now; without a
  // record, whether a client holds the image's lock and watches it. `how` says how that is known.
  bool running = true;
  std::string how;
  // Without a record, and not running: the client that held its lock then,
  // no longer watching it ("client.<instance id>"; "" when none held it).
  std::string dead_lock_holder;
};

// The clients whose lock on a partial image that is not running may be
// broken (break_dead_writer_lock): those its record names as its writers
// (recorded_writer_clients), or without a record its dead lock holder.
std::vector<std::string> dead_writer_clients(const PartialImage& partial);

// The partial images in `cluster`'s image pool (with `only_uuid`, just
// image-<only_uuid>), sorted by id. An image removed or completed while it
// is looked at is left out.
Result<std::vector<PartialImage>> list_partial_images(Cluster& cluster,
                                                      const std::string& only_uuid = "");

// The answer form of a partial image (image.partials, docs/driver-abi.md).
Json partial_image_json(const PartialImage& partial);

}  // namespace rbdvol::plugin
