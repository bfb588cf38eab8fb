// image.upload: a raw or qcow2 file becomes image-<uuid> in one backend's
// image pool, marked rbdvol.complete last (its snapshot `snap` is made by the
// first volume cloned from it). The format comes from the file's content;
// qcow2 is converted to a sparse raw file first. Its checksum
// (rbdvol.checksum) comes from the chunk digests the upload records
// (chunk_list_checksum). All or nothing: a failure removes what was created.
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "plugin/ceph/full_pool.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/fault_injection.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/chunk_record.h"
#include "plugin/transfer/copy_engine.h"
#include "plugin/transfer/image_file.h"

namespace rbdvol::plugin {

namespace {

// What an upload's chunk record names as its source: the file by absolute
// path, size and modification time, so a resumed upload continues only the
// same file as it was.
std::string file_source(const std::string& path, const struct stat& st) {
  char* real = ::realpath(path.c_str(), nullptr);
  const std::string absolute = real ? real : path;
  std::free(real);
  return "file " + absolute + " (" + std::to_string(st.st_size) + " bytes, modified " +
         std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec) + ")";
}

// A partial upload found to resume: its image, its record's header and the
// record's version when its owner was found gone.
struct PartialUpload {
  std::string rbd_name;
  ChunkRecordHeader header;
  uint64_t version = 0;
};

// A partial upload of `source` in `io`'s pool left by a dead run: an
// image-<uuid> without rbdvol.complete whose chunk record names `source` and
// whose process no longer runs (owner_is_running). Its record may be complete (the
// run died after its data, before rbdvol.complete): then nothing is sent again.
Result<std::optional<PartialUpload>> find_partial_upload(rados_ioctx_t io,
                                                         const std::string& source) {
  using Found = std::optional<PartialUpload>;
  auto names = list_images(io);
  if (!names.ok()) return names.status();
  for (const auto& name : *names) {
    if (name.compare(0, kImagePrefix.size(), kImagePrefix) != 0) continue;
    const std::string uuid = name.substr(kImagePrefix.size());
    if (!is_uuid(uuid)) continue;
    uint64_t version = 0;
    auto header = read_chunk_record_header(io, name, &version);
    if (!header.ok() || !*header) continue;
    if ((*header)->source != source) continue;
    auto running = owner_is_running(io, name, (*header)->owner);
    if (!running.ok() || *running) continue;
    auto state = image_copy_state(io, uuid);
    if (!state.ok() || *state == CopyState::kComplete) continue;
    return Found(PartialUpload{name, **header, version});
  }
  return Found();
}

}  // namespace

Result<Json> image_upload(Driver& driver, const Json& request, const Progress& progress) {
  auto path = required_string(request, "path");
  if (!path.ok()) return path.status();
  auto name = required_name(request, "name", "image");
  if (!name.ok()) return name.status();
  auto backend_id = optional_string(request, "backend");
  if (!backend_id.ok()) return backend_id.status();
  auto resume = optional_bool(request, "resume", false);
  if (!resume.ok()) return resume.status();
  const std::string backend = backend_id->empty() ? driver.config().default_backend : *backend_id;
  auto found = driver.enabled_cluster(backend);
  if (!found.ok()) return found.status();
  Cluster* cluster = *found;

  auto file = RawImageFile::open(*path, [&] { progress("convert", 0, 0); });
  if (!file.ok()) return file.status();
  const int raw_fd = (*file)->fd();
  const std::string& raw_path = (*file)->label;
  const uint64_t size = (*file)->size;

  auto io = cluster->open_image_pool();
  if (!io.ok()) return io.status();
  const std::string source = file_source(*path, (*file)->st);
  // What the upload writes: the file's data, not its holes (a converted
  // qcow2 is counted whole). Checked first, so that an upload into a pool
  // that cannot take it writes nothing.
  struct stat raw_st {};
  const uint64_t data_bytes =
      ::fstat(raw_fd, &raw_st) == 0
          ? std::min<uint64_t>(size, static_cast<uint64_t>(raw_st.st_blocks) * 512)
          : size;
  RETURN_IF_ERROR(require_pool_space(io->get(), data_bytes,
                                     "the upload of " + *path + " into backend " + backend));
  std::optional<PartialUpload> partial;
  if (*resume) {
    auto found = find_partial_upload(io->get(), source);
    if (!found.ok()) return found.status().Prefixed("backend " + backend);
    partial = *found;
  }
  std::string uuid;
  if (partial) {
    uuid = partial->rbd_name.substr(kImagePrefix.size());
  } else {
    ASSIGN_OR_RETURN(uuid, new_unused_id(driver, kImagePrefix));
  }
  const std::string rbd_name = kImagePrefix + uuid;
  const std::string label = "backend " + backend + " " + image_spec(io->get(), rbd_name);
  // A resumed upload watches its record until it is done (RecordWatch).
  std::unique_ptr<RecordWatch> claimed;
  int r = 0;
  if (partial) {
    // Claimed first: of two runs resuming it at once, the one that loses
    // stops here, before it breaks the winner's lock.
    Status s = inject_fault("image.upload:before-claim");
    if (s.ok()) {
      auto claim = claim_chunk_record(io->get(), rbd_name, partial->header, partial->version);
      if (claim.ok()) {
        claimed = std::move(claim).value();
      } else {
        s = claim.status();
      }
    }
    if (!s.ok()) {
      return Status::Error(s.err(), "cannot resume the upload of " + *path + " into backend " +
                                        backend + ": " + s.message());
    }
    s = break_exclusive_lock(io->get(), rbd_name);
    if (!s.ok()) return s;
  } else {
    int order = 0;  // the cluster's default object size
    r = rbd_create(io->get(), rbd_name.c_str(), size, &order);
    if (r < 0) {
      return Status::Error(r, "cannot create image " + image_spec(io->get(), rbd_name) +
                                  " on backend " + backend + ": " + ceph_strerror(r));
    }
  }
  CopyStats stats;
  std::string checksum;
  auto fill = [&]() -> Status {
    auto image = open_image(io->get(), rbd_name, false);
    if (!image.ok()) return image.status();
    rbd_image_info_t info{};
    r = rbd_stat(image->get(), &info, sizeof(info));
    if (r < 0) return Status::Error(r, "cannot stat " + label + ": " + ceph_strerror(r));
    std::vector<bool> confirmed;
    Result<ChunkRecordHeader> record =
        partial ? Result<ChunkRecordHeader>(partial->header)
                : start_chunk_record(io->get(), rbd_name, size, info.obj_size, source);
    if (!record.ok()) return record.status();
    if (partial) {
      if (record->size != size || info.size != size) {
        return Status::Invalid("the partial upload " + label + " has another size than " + *path);
      }
      auto digests = read_chunk_digests(io->get(), rbd_name, *record);
      if (!digests.ok()) return digests.status();
      for (const auto& d : *digests) confirmed.push_back(d.has_value());
    }
    Status s = metadata_set(image->get(), meta::kIncomplete,
                            "upload of " + source + " by " + record->owner + " since " +
                                record->started_at + "; see " + chunk_record_object(rbd_name));
    if (!s.ok()) return s;
    CopyOptions options = default_copy_options("upload");
    options.chunk_size = record->chunk_size;
    options.confirmed = confirmed;
    options.kill_after_chunks = fault_count("image.upload:kill-after-chunk");
    options.record = [pool = io->get(), rbd_name](const std::vector<ChunkDigest>& digests) {
      return record_chunk_digests(pool, rbd_name, digests);
    };
    auto copied =
        copy_file_data(raw_fd, raw_path, size, {io->get(), rbd_name, "", label}, progress, options);
    if (!copied.ok()) return copied.status();
    stats = *copied;
    // The checksum comes from the digests just recorded (and, resuming, those
    // of the run before): no second pass over the file.
    auto sum = recorded_checksum(io->get(), rbd_name, *record);
    if (!sum.ok()) return sum.status();
    checksum = *sum;
    s = inject_fault("image.upload:after-write");
    if (!s.ok()) return s;
    r = rbd_metadata_remove(image->get(), meta::kIncomplete.c_str());
    if (r < 0 && r != -ENOENT) {
      return Status::Error(
          r, "cannot remove " + meta::kIncomplete + " of " + label + ": " + ceph_strerror(r));
    }
    s = complete_chunk_record(io->get(), rbd_name, *record);
    if (!s.ok()) return s;
    for (const auto& [key, value] :
         {std::pair{meta::kName, *name}, std::pair{meta::kImageFormat, (*file)->format},
          std::pair{meta::kImageSourceSize, std::to_string((*file)->file_size)},
          std::pair{meta::kImageChecksum, checksum},
          std::pair{meta::kCreatedAt, utc_now_iso8601()}}) {
      s = metadata_set(image->get(), key, value);
      if (!s.ok()) return s;
    }
    // rbdvol.complete comes last: an image without it is not listed, so
    // nobody clones a half-written image. No snapshot: the first volume
    // cloned from the image makes it.
    s = inject_fault("image.upload:before-complete");
    if (!s.ok()) return s;
    return metadata_set(image->get(), meta::kComplete, utc_now_iso8601());
  };
  Status s = fill();
  if (!s.ok()) {
    Status undo = remove_image_and_snapshots(io->get(), rbd_name);
    std::string note =
        undo.ok() ? "" : " (and removing the partial image failed: " + undo.message() + ")";
    return Status::Error(s.err(), "upload of " + *path + " into backend " + backend +
                                      " failed: " + s.message() + note);
  }
  return Json{{"id", uuid},
              {"name", *name},
              {"backend", backend},
              {"pool", cluster->backend().image_pool},
              {"image", rbd_name},
              {"size", size},
              {"format", (*file)->format},
              {"file_size", (*file)->file_size},
              {"checksum", checksum},
              {"snapshot", kImageSnapshot},
              {"chunks", stats.chunks},
              {"chunks_written", stats.chunks_written},
              {"chunks_zero", stats.chunks_zero},
              {"chunks_skipped_confirmed", stats.chunks_skipped_confirmed},
              {"resumed", partial.has_value()}};
}

}  // namespace rbdvol::plugin
