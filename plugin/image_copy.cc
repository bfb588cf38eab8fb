// image.copy: an image copied into more backends, all or nothing; and the
// copies that volume.create and the volume operations make across clusters.
#include "plugin/image_copy.h"

#include <algorithm>
#include <optional>
#include <sstream>

#include "plugin/chunk_record.h"
#include "plugin/copy_engine.h"
#include "plugin/fault_injection.h"
#include "plugin/naming.h"
#include "plugin/operations.h"
#include "plugin/rbd_image.h"
#include "plugin/request.h"

namespace rbdvol::plugin {

namespace {

std::string snap_spec(rados_ioctx_t io, const std::string& name, const std::string& snap) {
  return image_spec(io, name) + (snap.empty() ? "" : "@" + snap);
}

// The engine's copy into an image that exists; undone by the caller.
Status copy_into(rados_ioctx_t src_io, const std::string& src_name, const std::string& src_snap,
                 rados_ioctx_t dst_io, const std::string& dst_name, const Progress& progress,
                 CopyStats* stats) {
  auto copied = copy_image_data({src_io, src_name, src_snap, snap_spec(src_io, src_name, src_snap)},
                                {dst_io, dst_name, "", image_spec(dst_io, dst_name)}, progress,
                                default_copy_options("copy"));
  if (!copied.ok()) return copied.status();
  if (stats) *stats = *copied;
  return inject_fault("image.copy:after-data");
}

// The digests of the source copy's own chunk record, when it has a complete
// one in chunks of the same size and for the same image size (every image
// rbdvol uploaded or copied): the copy carries them over instead of hashing
// every chunk again; `image verify` checks the copy's bytes against them.
// Empty when there is no such record: the engine hashes.
Result<std::vector<std::optional<ChunkDigest>>> source_chunk_digests(
    rados_ioctx_t src_io, const std::string& src_name, const ChunkRecordHeader& copy) {
  auto header = read_chunk_record_header(src_io, src_name);
  if (!header.ok()) return header.status();
  if (!*header || (*header)->state != "complete" || (*header)->chunk_size != copy.chunk_size ||
      (*header)->size != copy.size) {
    return std::vector<std::optional<ChunkDigest>>();
  }
  return read_chunk_digests(src_io, src_name, **header);
}

// Copies the rbdvol.* metadata keys of the source image onto the copy, but
// not rbdvol.complete nor rbdvol.incomplete: the copy sets its own state.
Status copy_image_metadata(rbd_image_t src, rbd_image_t dst) {
  auto values = metadata_list(src, meta::kPrefix);
  if (!values.ok()) return values.status();
  for (const auto& [key, value] : *values) {
    if (key == meta::kComplete || key == meta::kIncomplete) continue;
    Status s = metadata_set(dst, key, value);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

std::vector<std::string> split_backends(const Json& value) {
  std::vector<std::string> out;
  auto add = [&](std::string text) {
    std::stringstream ss(text);
    std::string item;
    while (std::getline(ss, item, ',')) {
      item.erase(0, item.find_first_not_of(" \t"));
      item.erase(item.find_last_not_of(" \t") + 1);
      if (!item.empty() && std::find(out.begin(), out.end(), item) == out.end()) {
        out.push_back(item);
      }
    }
  };
  if (value.is_string()) add(value.get<std::string>());
  if (value.is_array()) {
    for (const auto& v : value) {
      if (v.is_string()) add(v.get<std::string>());
    }
  }
  return out;
}

}  // namespace

Status create_image_like(rados_ioctx_t src_io, const std::string& src_name,
                         const std::string& src_snap, rados_ioctx_t dst_io,
                         const std::string& dst_name) {
  uint64_t size = 0;
  int order = 0;
  {
    auto opened = open_image_at(src_io, src_name, src_snap);
    if (!opened.ok()) return opened.status();
    ImagePtr src = std::move(opened).value();
    rbd_image_info_t info{};
    int r = rbd_stat(src.get(), &info, sizeof(info));
    if (r < 0) {
      return Status::Error(
          r, "cannot stat " + snap_spec(src_io, src_name, src_snap) + ": " + ceph_strerror(r));
    }
    size = info.size;
    order = info.order;
  }
  rbd_image_options_t opts;
  rbd_image_options_create(&opts);
  rbd_image_options_set_uint64(opts, RBD_IMAGE_OPTION_ORDER, static_cast<uint64_t>(order));
  int r = rbd_create4(dst_io, dst_name.c_str(), size, opts);
  rbd_image_options_destroy(opts);
  if (r < 0) {
    return Status::Error(r,
                         "cannot create " + image_spec(dst_io, dst_name) + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

Status copy_rbd_image(rados_ioctx_t src_io, const std::string& src_name,
                      const std::string& src_snap, rados_ioctx_t dst_io,
                      const std::string& dst_name, const Progress& progress, CopyStats* stats) {
  Status created = create_image_like(src_io, src_name, src_snap, dst_io, dst_name);
  if (!created.ok()) return created;
  Status s = copy_into(src_io, src_name, src_snap, dst_io, dst_name, progress, stats);
  if (!s.ok()) {
    Status undo = remove_image_and_snapshots(dst_io, dst_name);
    return Status::Error(
        s.err(),
        "copy of " + snap_spec(src_io, src_name, src_snap) + " to " + image_spec(dst_io, dst_name) +
            " failed: " + s.message() +
            (undo.ok() ? " (the partial copy was removed)"
                       : " (removing the partial copy failed too: " + undo.message() + ")"));
  }
  return Status::Ok();
}

namespace {

// Copies src_io/src_name's data (at `snap` if it has it, else its head: the
// same bytes) into dst_name, which exists (created by the caller, or a partial
// copy being resumed), recording chunk digests as it goes; then its metadata,
// the record's completion, and rbdvol.complete last, so the copy is listed
// only once complete. It makes no snapshot: the first volume cloned from the
// copy does.
Status fill_image_copy(rados_ioctx_t src_io, const std::string& src_name, rados_ioctx_t dst_io,
                       const std::string& rbd_name, const ChunkRecordHeader& header,
                       const std::vector<bool>& confirmed, const Progress& progress,
                       CopyStats* stats) {
  std::string src_snap;
  auto opened = open_image_data(src_io, src_name, &src_snap);
  if (!opened.ok()) return opened.status();
  ImagePtr src = std::move(opened).value();
  CopyOptions options = default_copy_options("copy");
  options.chunk_size = header.chunk_size;
  options.confirmed = confirmed;
  auto carried = source_chunk_digests(src_io, src_name, header);
  if (!carried.ok()) return carried.status();
  options.source_digests = std::move(carried).value();
  options.record = [dst_io, rbd_name](const std::vector<ChunkDigest>& digests) {
    return record_chunk_digests(dst_io, rbd_name, digests);
  };
  options.kill_after_chunks = fault_count("image.copy:kill-after-chunk");
  auto copied =
      copy_image_data({src_io, src_name, src_snap, snap_spec(src_io, src_name, src_snap)},
                      {dst_io, rbd_name, "", image_spec(dst_io, rbd_name)}, progress, options);
  if (!copied.ok()) return copied.status();
  // Opened once the engine closed its own handle: no exclusive lock to pass.
  auto dst = open_image(dst_io, rbd_name, false);
  if (!dst.ok()) return dst.status();
  if (stats) *stats = *copied;
  Status s = inject_fault("image.copy:after-data");
  if (!s.ok()) return s;
  s = copy_image_metadata(src.get(), dst->get());
  if (!s.ok()) return s;
  int r = rbd_metadata_remove(dst->get(), meta::kIncomplete.c_str());
  if (r < 0 && r != -ENOENT) {
    return Status::Error(r, "cannot remove " + meta::kIncomplete + " of " +
                                image_spec(dst_io, rbd_name) + ": " + ceph_strerror(r));
  }
  s = complete_chunk_record(dst_io, rbd_name, header);
  if (!s.ok()) return s;
  s = inject_fault("image.copy:before-complete");
  if (!s.ok()) return s;
  return metadata_set(dst->get(), meta::kComplete, utc_now_iso8601());
}

// The partial copy `rbd_name` in dst_io's pool, left by a run that did not
// finish: its record's header, or EBUSY when it has no record (not one of
// ours to continue) or its owner is still running on this host.
Result<ChunkRecordHeader> partial_copy(rados_ioctx_t dst_io, const std::string& rbd_name,
                                       const std::string& backend) {
  auto header = read_chunk_record_header(dst_io, rbd_name);
  if (!header.ok()) return header.status();
  if (!*header) {
    return Status::Busy("backend " + backend + " already has " + image_spec(dst_io, rbd_name) +
                        " without " + meta::kComplete +
                        " and without a chunk record: another "
                        "copy is in progress, or one was interrupted (remove it with rbd rm if "
                        "no copy is running)");
  }
  if (owner_is_alive_here((*header)->owner)) {
    return Status::Busy("backend " + backend + ": " + image_spec(dst_io, rbd_name) +
                        " is being copied by process " + (*header)->owner + " (started " +
                        (*header)->started_at + ")");
  }
  return **header;
}

}  // namespace

Result<ImageLocation> copy_image_to_backend(Driver& driver, const ImageRecord& image,
                                            Cluster& target, const Progress& progress,
                                            CopyStats* stats, bool resume) {
  const std::string rbd_name = kImagePrefix + image.id;
  for (const auto& l : image.locations) {
    if (l.backend == target.id()) return l;
  }
  auto dst_io = target.open_image_pool();
  if (!dst_io.ok()) return dst_io.status();
  auto holds = pool_holds_image(dst_io->get(), image.id);
  if (!holds.ok()) return holds.status().Prefixed("backend " + target.id());
  const ImageLocation copy{target.id(), target.backend().image_pool, rbd_name};
  if (*holds) return copy;

  // A partial copy from a run that died: continued with `resume`, else named.
  std::optional<ChunkRecordHeader> partial;
  std::vector<bool> confirmed;
  Status exists = image_exists(dst_io->get(), rbd_name);
  if (exists.ok()) {
    auto header = partial_copy(dst_io->get(), rbd_name, target.id());
    if (!header.ok()) return header.status();
    auto digests = read_chunk_digests(dst_io->get(), rbd_name, *header);
    if (!digests.ok()) return digests.status();
    uint64_t done = 0;
    for (const auto& d : *digests) {
      confirmed.push_back(d.has_value());
      done += d.has_value();
    }
    if (!resume) {
      return Status::Exists(
          "backend " + target.id() + " has a partial copy " + image_spec(dst_io->get(), rbd_name) +
          " of image " + image.id + " left by an interrupted run (" + header->owner + ", started " +
          header->started_at + ", " + std::to_string(done) + " of " +
          std::to_string(header->chunks()) +
          " chunks confirmed): run the copy again with --resume (request field resume) to "
          "continue it, or remove it with rbd rm");
    }
    Status s = break_exclusive_lock(dst_io->get(), rbd_name);
    if (!s.ok()) return s;
    header->owner = this_process_owner();
    s = write_chunk_record_header(dst_io->get(), rbd_name, *header, false);
    if (!s.ok()) return s;
    partial = *header;
  } else if (exists.err() != ENOENT) {
    return exists.Prefixed("backend " + target.id());
  }

  // The first backend holding it that answers is the source.
  Status last = Status::NotFound("image " + image.id + " has no location to copy from");
  for (const auto& l : image.locations) {
    Cluster* source = driver.cluster(l.backend);
    if (!source) continue;
    auto src_io = source->open_pool(l.pool);
    if (!src_io.ok()) {
      last = src_io.status();
      continue;
    }
    const std::string source_label =
        "backend " + l.backend + " " + image_spec(src_io->get(), l.rbd_name);
    ChunkRecordHeader header;
    if (partial) {
      header = *partial;
    } else {
      // Its head has the size and object size of `snap` (never written again).
      Status s = create_image_like(src_io->get(), l.rbd_name, "", dst_io->get(), rbd_name);
      if (s.err() == EEXIST) {
        return Status::Busy("backend " + target.id() + " already has " +
                            image_spec(dst_io->get(), rbd_name) +
                            ": another copy started at the same time");
      }
      if (!s.ok()) return s.Prefixed("image " + image.id + " to backend " + target.id());
      auto started = [&]() -> Result<ChunkRecordHeader> {
        auto dst = open_image(dst_io->get(), rbd_name, false);
        if (!dst.ok()) return dst.status();
        rbd_image_info_t info{};
        int r = rbd_stat(dst->get(), &info, sizeof(info));
        if (r < 0) {
          return Status::Error(
              r, "cannot stat " + image_spec(dst_io->get(), rbd_name) + ": " + ceph_strerror(r));
        }
        auto h =
            start_chunk_record(dst_io->get(), rbd_name, info.size, info.obj_size, source_label);
        if (!h.ok()) return h.status();
        Status m = metadata_set(dst->get(), meta::kIncomplete,
                                "copy of " + source_label + " by " + h->owner + " since " +
                                    h->started_at + "; see " + chunk_record_object(rbd_name));
        if (!m.ok()) return m;
        return h;
      }();
      if (!started.ok()) {
        Status undo = remove_image_and_snapshots(dst_io->get(), rbd_name);
        return started.status().Prefixed(
            "image " + image.id + " to backend " + target.id() +
            (undo.ok() ? " (the new image was removed)"
                       : " (removing the new image failed too: " + undo.message() + ")"));
      }
      header = *started;
    }
    if (partial) {
      // A resumed copy must continue the same source: same size, same chunks.
      auto src = open_image(src_io->get(), l.rbd_name, true);
      if (!src.ok()) return src.status();
      auto size = image_size(src->get());
      if (!size.ok()) return size.status();
      if (*size != header.size) {
        return Status::Invalid("the partial copy " + image_spec(dst_io->get(), rbd_name) +
                               " records " + std::to_string(header.size) +
                               " bytes, but the source " + source_label + " has " +
                               std::to_string(*size) + "; remove it with rbd rm");
      }
    }
    Status s = fill_image_copy(src_io->get(), l.rbd_name, dst_io->get(), rbd_name, header,
                               confirmed, progress, stats);
    if (!s.ok()) {
      Status undo = remove_image_and_snapshots(dst_io->get(), rbd_name);
      return Status::Error(
          s.err(),
          "image " + image.id + " from backend " + l.backend + " to backend " + target.id() + ": " +
              s.message() +
              (undo.ok() ? " (the partial copy was removed)"
                         : " (removing the partial copy failed too: " + undo.message() + ")"));
    }
    return copy;
  }
  return last.Prefixed("image " + image.id + " to backend " + target.id());
}

Result<Json> image_copy(Driver& driver, const Json& request, const Progress& progress) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  if (!request.contains("to") || !(request["to"].is_string() || request["to"].is_array())) {
    return Status::Invalid("'to' must be a backend id, a comma list of them, or an array");
  }
  const std::vector<std::string> targets = split_backends(request["to"]);
  if (targets.empty()) return Status::Invalid("'to' names no backend");
  auto all_or_nothing = optional_bool(request, "all_or_nothing", true);
  if (!all_or_nothing.ok()) return all_or_nothing.status();
  auto resume = optional_bool(request, "resume", false);
  if (!resume.ok()) return resume.status();
  std::vector<Cluster*> clusters;
  for (const auto& t : targets) {
    auto c = driver.enabled_cluster(t);
    if (!c.ok()) return c.status();
    clusters.push_back(*c);
  }
  auto image = find_image(driver, *id);
  if (!image.ok()) return image.status();

  Json copied = Json::array(), skipped = Json::array(), failed = Json::array();
  std::vector<Cluster*> made;  // copies this call made, for all-or-nothing
  std::vector<ImageLocation> added;
  Status failure;
  for (Cluster* c : clusters) {
    const bool held = std::any_of(image->locations.begin(), image->locations.end(),
                                  [&](const ImageLocation& l) { return l.backend == c->id(); });
    if (held) {
      skipped.push_back({{"backend", c->id()}, {"reason", "already holds image " + image->id}});
      continue;
    }
    CopyStats stats;
    auto copy = copy_image_to_backend(driver, *image, *c, progress, &stats, *resume);
    if (!copy.ok()) {
      failed.push_back({{"backend", c->id()}, {"error", copy.status().message()}});
      if (failure.ok()) failure = copy.status();
      if (*all_or_nothing) break;
      continue;
    }
    made.push_back(c);
    added.push_back(*copy);
    copied.push_back({{"backend", copy->backend},
                      {"pool", copy->pool},
                      {"image", copy->rbd_name},
                      {"bytes_read", stats.allocated},
                      {"bytes_written", stats.written},
                      {"chunks", stats.chunks},
                      {"chunk_size", stats.chunk_size},
                      {"chunks_written", stats.chunks_written},
                      {"chunks_zero", stats.chunks_zero},
                      {"chunks_skipped_confirmed", stats.chunks_skipped_confirmed},
                      {"chunks_hashed", stats.chunks_hashed},
                      {"resumed", stats.chunks_skipped_confirmed > 0},
                      {"seconds", stats.seconds}});
  }
  if (!failure.ok() && *all_or_nothing) {
    std::string undone;
    for (Cluster* c : made) {
      auto io = c->open_image_pool();
      Status undo =
          io.ok() ? remove_image_and_snapshots(io->get(), kImagePrefix + image->id) : io.status();
      undone += "; " + c->id() + (undo.ok() ? " removed" : " NOT removed: " + undo.message());
    }
    return Status::Error(
        failure.err(),
        "copy of image " + image->id + " failed, nothing kept: " + failure.message() +
            (undone.empty() ? "" : " (copies made by this call:" + undone.substr(1) + ")"));
  }
  // The record as found, with the copies this call made.
  ImageRecord now = *image;
  now.locations.insert(now.locations.end(), added.begin(), added.end());
  Json answer = image_record_json(now);
  answer["copied"] = copied;
  answer["skipped"] = skipped;
  answer["failed"] = failed;
  return answer;
}

}  // namespace rbdvol::plugin
