// image.transfer_begin: starts a streamed transfer into a new image
// (transfer/image_transfer.h): creates the partial image-<uuid> in one
// backend's image pool, with its lock features off and a chunk record in
// state "incomplete" whose source is "transfer". Data comes with image.write
// and image.transfer_zero; image.transfer_finish completes it. All or
// nothing: a failure removes what was created.
#include "plugin/ceph/full_pool.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/records/volume_record.h"
#include "plugin/transfer/image_transfer.h"

namespace rbdvol::plugin {

namespace {

// Turns the lock features off (several clients write at once), keeping the
// set it had in kTransferFeatures, then starts the record and marks the image
// incomplete.
Status prepare_transfer_image(Pool& io, const std::string& rbd_name, const std::string& name,
                              uint64_t capacity, uint64_t declared, uint64_t chunk_size) {
  ASSIGN_OR_RETURN(ImagePtr image, open_image(io, rbd_name, false));
  ASSIGN_OR_RETURN(uint64_t features, image_features(*image));
  RETURN_IF_ERROR(metadata_set(*image, meta::kTransferFeatures, std::to_string(features)));
  const uint64_t off = features & kMultiattachForbiddenFeatures;
  if (off) {
    Status s = image->update_features(off, false);
    if (!s.ok()) {
      return Status::Error(s.err(), "cannot turn off " + name_list(feature_names(off)) + " of " +
                                        image_spec(io, rbd_name) + ": " + ceph_strerror(-s.err()));
    }
  }
  ChunkRecordHeader h;
  h.size = capacity;
  h.chunk_size = chunk_size;
  h.transfer_size = declared;
  h.source = kTransferSource;
  h.state = "incomplete";
  h.owner = this_process_owner();
  h.client = io.client_name();
  h.started_at = utc_now_iso8601();
  RETURN_IF_ERROR(write_chunk_record_header(io, rbd_name, h, true));
  if (!name.empty()) RETURN_IF_ERROR(metadata_set(*image, meta::kName, name));
  return metadata_set(*image, meta::kIncomplete,
                      "transfer of image " + rbd_name.substr(kImagePrefix.size()) + " begun by " +
                          h.owner + " at " + h.started_at + "; see " +
                          chunk_record_object(rbd_name));
}

}  // namespace

Result<Json> image_transfer_begin(Driver& driver, const Json& request, const Progress&) {
  ASSIGN_OR_RETURN(std::string id, optional_string(request, "id"));
  ASSIGN_OR_RETURN(std::string name, optional_name(request, "name", "image"));
  ASSIGN_OR_RETURN(std::string backend_id, optional_string(request, "backend"));
  ASSIGN_OR_RETURN(std::optional<uint64_t> size, optional_offset(request, "size"));
  ASSIGN_OR_RETURN(std::optional<uint64_t> chunk, optional_offset(request, "chunk_size"));
  const uint64_t declared = size.value_or(0);
  if (declared > kMaxVolumeBytes) {
    return Status::Invalid("size " + std::to_string(declared) +
                           " is larger than the largest image (" + std::to_string(kMaxVolumeBytes) +
                           " bytes)");
  }
  if (chunk && *chunk) RETURN_IF_ERROR(check_transfer_chunk_size(*chunk));
  const std::string backend = backend_id.empty() ? driver.config().default_backend : backend_id;
  ASSIGN_OR_RETURN(Cluster * cluster, driver.enabled_cluster(backend));

  std::string uuid;
  if (!id.empty()) {
    ASSIGN_OR_RETURN(uuid, uuid_from_id(id, kImagePrefix, "image"));
    auto unused = new_unused_id(driver, kImagePrefix, uuid);
    if (!unused.ok() && unused.status().err() == EEXIST) {
      return Status::Exists("image " + uuid +
                            " exists already (complete or partial): " + unused.status().message());
    }
    if (!unused.ok()) return unused.status();
  } else {
    ASSIGN_OR_RETURN(uuid, new_unused_id(driver, kImagePrefix));
  }
  const std::string rbd_name = kImagePrefix + uuid;
  ASSIGN_OR_RETURN(PoolPtr io, cluster->open_image_pool());
  if (declared) {
    RETURN_IF_ERROR(require_pool_space(
        *io, declared,
        "a transfer of " + std::to_string(declared) + " bytes into backend " + backend));
  }
  const uint64_t capacity = declared ? declared : kTransferGrowStep;
  int r = as_errno(io->create_image(rbd_name, capacity, ImageOptions{}));
  if (r < 0) {
    return Status::Error(r, "cannot create image " + image_spec(*io, rbd_name) + " on backend " +
                                backend + ": " + ceph_strerror(r));
  }
  uint64_t chunk_size = chunk.value_or(0);
  Status s = Status::Ok();
  if (!chunk_size) {
    auto image = open_image(*io, rbd_name, true);
    auto st = image.ok() ? (*image)->stat() : Result<ImageStat>(image.status());
    if (st.ok()) {
      chunk_size = st->object_size;
    } else {
      s = st.status();
    }
  }
  if (s.ok()) s = prepare_transfer_image(*io, rbd_name, name, capacity, declared, chunk_size);
  if (!s.ok()) {
    Status undo = remove_image_and_snapshots(*io, rbd_name);
    const std::string note =
        undo.ok() ? "" : " (and removing the partial image failed: " + undo.message() + ")";
    return Status::Error(s.err(), "the transfer of image " + uuid + " into backend " + backend +
                                      " cannot begin: " + s.message() + note);
  }
  return Json{{"id", uuid},
              {"backend", backend},
              {"rbd_name", rbd_name},
              {"pool", cluster->backend().image_pool},
              {"chunk_size", chunk_size},
              {"size", declared}};
}

}  // namespace rbdvol::plugin
