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
Result<std::optional<PartialUpload>> find_partial_upload(Pool& io, const std::string& source) {
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

// Makes this process the owner of the dead run's partial upload: claims its
// record first (of two runs resuming it at once, the one that loses stops
// here, before it breaks the winner's lock), then breaks the dead run's lock
// (break_dead_writer_lock: only while a client the record names holds it).
// The returned watch is kept until the upload is done (RecordWatch).
Result<std::unique_ptr<RecordWatch>> take_over_partial_upload(Pool& io, PartialUpload& partial,
                                                              const std::string& what) {
  Status s = inject_fault("image.upload:before-claim");
  std::unique_ptr<RecordWatch> claimed;
  if (s.ok()) {
    auto claim = claim_chunk_record(io, partial.rbd_name, partial.header, partial.version);
    if (claim.ok()) {
      claimed = std::move(claim).value();
    } else {
      s = claim.status();
    }
  }
  if (!s.ok()) return Status::Error(s.err(), "cannot resume " + what + ": " + s.message());
  // The claim named the dead run's client among the record's writers: a lock
  // held by anyone else is a live writer's, and stays (EBUSY).
  Status broken =
      break_dead_writer_lock(io, partial.rbd_name, recorded_writer_clients(partial.header));
  if (!broken.ok()) {
    return Status::Error(broken.err(), "cannot resume " + what + ": " + broken.message());
  }
  return claimed;
}

// One upload of a raw file into image `rbd_name` of `io`'s pool (created,
// or a dead run's partial upload being resumed).
struct Upload {
  Pool& io;
  const RawImageFile& file;
  std::string name;      // the image's name (rbdvol.name)
  std::string source;    // file_source()
  std::string rbd_name;  // image-<uuid>
  std::string label;     // "backend fast images/image-<uuid>"
  std::string path;      // as the request gave it
  const std::optional<PartialUpload>& partial;
  const Progress& progress;
  CopyStats stats;
  std::string checksum;
};

// The record of the upload: a new one, or the partial upload's, checked
// against the file, with the chunks it confirms in `confirmed`.
Result<ChunkRecordHeader> upload_record(Upload& up, RbdImage& image, std::vector<bool>* confirmed) {
  ASSIGN_OR_RETURN(ImageStat info, image.stat());
  if (!up.partial) {
    return start_chunk_record(up.io, up.rbd_name, up.file.size, info.object_size, up.source);
  }
  const ChunkRecordHeader& record = up.partial->header;
  if (record.size != up.file.size || info.size != up.file.size) {
    return Status::Invalid("the partial upload " + up.label + " has another size than " + up.path);
  }
  ASSIGN_OR_RETURN(auto digests, read_chunk_digests(up.io, up.rbd_name, record));
  for (const auto& d : digests) confirmed->push_back(d.has_value());
  return record;
}

// The upload's last steps once its data is written: rbdvol.incomplete goes,
// the record is completed, the image's metadata is set, and rbdvol.complete
// comes last: an image without it is not listed, so nobody clones a
// half-written image. No snapshot: the first volume cloned from the image
// makes it.
Status finish_upload(Upload& up, RbdImage& image, const ChunkRecordHeader& record) {
  RETURN_IF_ERROR(inject_fault("image.upload:after-write"));
  int r = as_errno(image.metadata_remove(meta::kIncomplete));
  if (r < 0 && r != -ENOENT) {
    return Status::Error(
        r, "cannot remove " + meta::kIncomplete + " of " + up.label + ": " + ceph_strerror(r));
  }
  RETURN_IF_ERROR(complete_chunk_record(up.io, up.rbd_name, record));
  for (const auto& [key, value] :
       {std::pair{meta::kName, up.name}, std::pair{meta::kImageFormat, up.file.format},
        std::pair{meta::kImageSourceSize, std::to_string(up.file.file_size)},
        std::pair{meta::kImageChecksum, up.checksum},
        std::pair{meta::kCreatedAt, utc_now_iso8601()}}) {
    RETURN_IF_ERROR(metadata_set(image, key, value));
  }
  RETURN_IF_ERROR(inject_fault("image.upload:before-complete"));
  return metadata_set(image, meta::kComplete, utc_now_iso8601());
}

// Writes the file's data into the image, recording chunk digests, then
// finishes it (finish_upload).
Status fill_upload(Upload& up) {
  ASSIGN_OR_RETURN(ImagePtr image, open_image(up.io, up.rbd_name, false));
  std::vector<bool> confirmed;
  ASSIGN_OR_RETURN(ChunkRecordHeader record, upload_record(up, *image, &confirmed));
  RETURN_IF_ERROR(metadata_set(*image, meta::kIncomplete,
                               "upload of " + up.source + " by " + record.owner + " since " +
                                   record.started_at + "; see " +
                                   chunk_record_object(up.rbd_name)));
  CopyOptions options = default_copy_options("upload");
  options.chunk_size = record.chunk_size;
  options.confirmed = confirmed;
  options.kill_after_chunks = fault_count("image.upload:kill-after-chunk");
  Pool& pool = up.io;
  const std::string rbd_name = up.rbd_name;
  options.record = [&pool, rbd_name](const std::vector<ChunkDigest>& digests) {
    return record_chunk_digests(pool, rbd_name, digests);
  };
  ASSIGN_OR_RETURN(up.stats,
                   copy_file_data(up.file.fd(), up.file.label, up.file.size,
                                  {&up.io, up.rbd_name, "", up.label}, up.progress, options));
  // The checksum comes from the digests just recorded (and, resuming, those
  // of the run before): no second pass over the file.
  ASSIGN_OR_RETURN(up.checksum, recorded_checksum(up.io, up.rbd_name, record));
  return finish_upload(up, *image, record);
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
  const uint64_t size = (*file)->size;

  auto io = cluster->open_image_pool();
  if (!io.ok()) return io.status();
  const std::string source = file_source(*path, (*file)->st);
  // What the upload writes: the file's data, not its holes (a converted
  // qcow2 is counted whole). Checked first, so that an upload into a pool
  // that cannot take it writes nothing.
  struct stat raw_st {};
  const uint64_t data_bytes =
      ::fstat((*file)->fd(), &raw_st) == 0
          ? std::min<uint64_t>(size, static_cast<uint64_t>(raw_st.st_blocks) * 512)
          : size;
  RETURN_IF_ERROR(
      require_pool_space(**io, data_bytes, "the upload of " + *path + " into backend " + backend));
  std::optional<PartialUpload> partial;
  if (*resume) {
    auto found = find_partial_upload(**io, source);
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
  const std::string label = "backend " + backend + " " + image_spec(**io, rbd_name);
  // A resumed upload watches its record until it is done (RecordWatch).
  std::unique_ptr<RecordWatch> claimed;
  if (partial) {
    ASSIGN_OR_RETURN(
        claimed, take_over_partial_upload(**io, *partial,
                                          "the upload of " + *path + " into backend " + backend));
  } else {
    // The cluster's default object size.
    int r = as_errno((*io)->create_image(rbd_name, size, ImageOptions{}));
    if (r < 0) {
      return Status::Error(r, "cannot create image " + image_spec(**io, rbd_name) + " on backend " +
                                  backend + ": " + ceph_strerror(r));
    }
  }
  Upload up{**io, **file, *name, source, rbd_name, label, *path, partial, progress, {}, {}};
  Status s = fill_upload(up);
  if (!s.ok()) {
    Status undo = remove_image_and_snapshots(**io, rbd_name);
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
              {"checksum", up.checksum},
              {"snapshot", kImageSnapshot},
              {"chunks", up.stats.chunks},
              {"chunks_written", up.stats.chunks_written},
              {"chunks_zero", up.stats.chunks_zero},
              {"chunks_skipped_confirmed", up.stats.chunks_skipped_confirmed},
              {"resumed", partial.has_value()}};
}

}  // namespace rbdvol::plugin
