// image.copy: an image copied into more backends, all or nothing; and the
// copies that volume.create and the volume operations make across clusters.
#include "plugin/ops/image/image_copy.h"
#include "plugin/ceph/full_pool.h"

#include <algorithm>
#include <chrono>
#include <future>
#include <optional>
#include <sstream>
#include <thread>

#include "plugin/ceph/rbd_image.h"
#include "plugin/fault_injection.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/chunk_record.h"
#include "plugin/transfer/copy_engine.h"

namespace rbdvol::plugin {

namespace {

std::string snap_spec(Pool& io, const std::string& name, const std::string& snap) {
  return image_spec(io, name) + (snap.empty() ? "" : "@" + snap);
}

// The digests of the source copy's own chunk record, when it has a complete
// one in chunks of the same size and for the same image size (every image
// rbdvol uploaded or copied): the copy carries them over instead of hashing
// every chunk again; `image verify` checks the copy's bytes against them.
// Empty when there is no such record: the engine hashes.
Result<std::vector<std::optional<ChunkDigest>>> source_chunk_digests(Pool& src_io,
                                                                     const std::string& src_name,
                                                                     const SourcePlan& plan) {
  auto header = read_chunk_record_header(src_io, src_name);
  if (!header.ok()) return header.status();
  if (!*header || (*header)->state != "complete" || (*header)->chunk_size != plan.chunk_size ||
      (*header)->size != plan.size) {
    return std::vector<std::optional<ChunkDigest>>();
  }
  return read_chunk_digests(src_io, src_name, **header);
}

// Copies the rbdvol.* metadata keys of the source image onto the copy, but
// not rbdvol.complete nor rbdvol.incomplete: the copy sets its own state.
Status copy_image_metadata(RbdImage& src, RbdImage& dst) {
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

// The size and object size of an open image.
Result<ImageStat> stat_image(OpenImage& image) {
  auto info = image.image->stat();
  if (!info.ok()) {
    const int r = info.status().err();
    return Status::Error(r, "cannot stat " + image.label + ": " + ceph_strerror(r));
  }
  return info;
}

// Creates `dst_name` in `dst_io`'s pool with the size and object size `like`
// gives, the cluster's default features. EEXIST when it exists.
Status create_image_like(const ImageStat& like, Pool& dst_io, const std::string& dst_name) {
  ImageOptions options;
  options.order = like.order;
  int r = as_errno(dst_io.create_image(dst_name, like.size, options));
  if (r < 0) {
    return Status::Error(r,
                         "cannot create " + image_spec(dst_io, dst_name) + ": " + ceph_strerror(r));
  }
  return Status::Ok();
}

// Opens `dst_name` for the copy's writes.
Result<std::unique_ptr<OpenImage>> open_destination(Pool& dst_io, const std::string& dst_name) {
  return open_engine_image({&dst_io, dst_name, "", image_spec(dst_io, dst_name)}, false);
}

// Takes the exclusive lock of the copy `dst` (when the image has the feature)
// and keeps it until the copy is closed: while it is held by a live client,
// processes on other hosts know the copy is being written (owner_is_running),
// and no other client can take it over by asking for it.
Status lock_copy(OpenImage& dst) {
  auto features = dst.image->features();
  int r = as_errno(features.status());
  if (r == 0 && (*features & feature::kExclusiveLock)) r = as_errno(dst.image->lock_acquire());
  if (r < 0) return Status::Error(r, "cannot lock " + dst.label + ": " + ceph_strerror(r));
  return Status::Ok();
}

// Closes `dst` (its exclusive lock goes with it) and removes the image it was:
// the undo of a copy that failed. Appended to `failed`'s message.
Status close_and_remove(std::unique_ptr<OpenImage> dst, Pool& dst_io, const std::string& dst_name,
                        const Status& failed, const std::string& what = "the partial copy") {
  dst.reset();
  Status undo = remove_image_and_snapshots(dst_io, dst_name);
  return Status::Error(failed.err(),
                       failed.message() + (undo.ok() ? " (" + what + " was removed)"
                                                     : " (removing " + what +
                                                           " failed too: " + undo.message() + ")"));
}

}  // namespace

Status copy_rbd_image(Pool& src_io, const std::string& src_name, const std::string& src_snap,
                      Pool& dst_io, const std::string& dst_name, const Progress& progress,
                      CopyStats* stats, std::string* checksum) {
  auto src =
      open_engine_image({&src_io, src_name, src_snap, snap_spec(src_io, src_name, src_snap)}, true);
  if (!src.ok()) return src.status();
  auto info = stat_image(**src);
  if (!info.ok()) return info.status();
  // The destination is made while the source's extents are listed.
  auto made = std::async(std::launch::async, [&]() -> Result<std::unique_ptr<OpenImage>> {
    Status created = create_image_like(*info, dst_io, dst_name);
    if (!created.ok()) return created;
    auto dst = open_destination(dst_io, dst_name);
    if (!dst.ok()) {
      return close_and_remove(nullptr, dst_io, dst_name, dst.status(), "the new image");
    }
    return dst;
  });
  auto plan = plan_image_source(**src, info->object_size);
  auto dst = made.get();
  if (!dst.ok()) return dst.status();
  CopyStats copied;
  auto copy = [&]() -> Status {
    if (!plan.ok()) return plan.status();
    CopyOptions options = default_copy_options("copy");
    std::optional<ChunkRecordHeader> header;
    if (checksum) {
      auto started =
          start_chunk_record(dst_io, dst_name, plan->size, plan->chunk_size, (*src)->label);
      if (!started.ok()) return started.status();
      header = *started;
      options.record = [&dst_io, dst_name](const std::vector<ChunkDigest>& digests) {
        return record_chunk_digests(dst_io, dst_name, digests);
      };
    }
    auto data = copy_planned_image_data(**src, *plan, **dst, progress, options);
    if (!data.ok()) return data.status();
    copied = *data;
    Status s = inject_fault("image.copy:after-data");
    if (!s.ok() || !header) return s;
    s = complete_chunk_record(dst_io, dst_name, *header);
    if (!s.ok()) return s;
    auto sum = recorded_checksum(dst_io, dst_name, *header);
    if (!sum.ok()) return sum.status();
    *checksum = *sum;
    return Status::Ok();
  };
  Status s = copy();
  if (!s.ok()) {
    return close_and_remove(
        std::move(dst).value(), dst_io, dst_name,
        Status::Error(s.err(), "copy of " + (*src)->label + " to " + image_spec(dst_io, dst_name) +
                                   " failed: " + s.message()));
  }
  if (stats) *stats = copied;
  return Status::Ok();
}

namespace {

// A copy left by a run that did not finish, and the version of its record
// when its owner was found gone.
struct PartialCopy {
  ChunkRecordHeader header;
  uint64_t version = 0;
};

// The destination of an image copy, open for its writes, and its record.
struct CopyDestination {
  std::unique_ptr<OpenImage> image;
  ChunkRecordHeader header;
  std::unique_ptr<RecordWatch> claim;  // a resumed copy's, until the copy is done
};

// Creates the copy `rbd_name` like the source `like`, locks it and starts its
// chunk record and rbdvol.incomplete; or, resuming `partial` (a copy whose
// process is gone), makes this process the record's owner (claim_chunk_record:
// EBUSY when another run got it first), breaks the gone process's lock (only
// while a client the record names holds it: break_dead_writer_lock) and
// takes it. On failure an image this call created is removed again.
Result<CopyDestination> prepare_destination(const ImageStat& like, const std::string& source_label,
                                            const std::optional<PartialCopy>& partial, Pool& dst_io,
                                            const std::string& rbd_name,
                                            const std::string& backend) {
  CopyDestination dst;
  if (partial) {
    // Claimed first: of two runs resuming it at once, the one that loses
    // stops here, before it breaks the winner's lock.
    dst.header = partial->header;
    Status s = inject_fault("image.copy:before-claim");
    if (!s.ok()) return s;
    auto claim = claim_chunk_record(dst_io, rbd_name, dst.header, partial->version);
    if (!claim.ok()) return claim.status();
    dst.claim = std::move(claim).value();
    s = inject_fault("image.copy:after-claim");
    // Only the lock of a client the record names as the dead writer: one
    // that took the copy over meanwhile keeps its lock (EBUSY).
    if (s.ok()) s = break_dead_writer_lock(dst_io, rbd_name, recorded_writer_clients(dst.header));
    if (!s.ok()) return s;
    auto opened = open_destination(dst_io, rbd_name);
    if (!opened.ok()) return opened.status();
    dst.image = std::move(opened).value();
    s = lock_copy(*dst.image);
    if (!s.ok()) return s;
    return dst;
  }
  Status s = create_image_like(like, dst_io, rbd_name);
  if (s.err() == EEXIST) {
    return Status::Busy("backend " + backend + " already has " + image_spec(dst_io, rbd_name) +
                        ": another copy started at the same time");
  }
  if (!s.ok()) return s;
  auto opened = open_destination(dst_io, rbd_name);
  if (!opened.ok()) {
    return close_and_remove(nullptr, dst_io, rbd_name, opened.status(), "the new image");
  }
  dst.image = std::move(opened).value();
  s = lock_copy(*dst.image);
  auto header =
      s.ok() ? start_chunk_record(dst_io, rbd_name, like.size, like.object_size, source_label)
             : Result<ChunkRecordHeader>(s);
  if (header.ok()) {
    dst.header = *header;
    s = metadata_set(*dst.image->image, meta::kIncomplete,
                     "copy of " + source_label + " by " + header->owner + " since " +
                         header->started_at + "; see " + chunk_record_object(rbd_name));
  } else {
    s = header.status();
  }
  if (!s.ok()) {
    return close_and_remove(std::move(dst.image), dst_io, rbd_name,
                            s.Prefixed(image_spec(dst_io, rbd_name)), "the new image");
  }
  return dst;
}

// Copies the planned source's data into the copy `dst` (new, or a partial copy
// being resumed), recording chunk digests as it goes, and its metadata
// meanwhile (the header object, not the data objects); then removes
// rbdvol.incomplete, completes the record, and sets rbdvol.complete last, so
// the copy is listed only once complete. It makes no snapshot: the first
// volume cloned from the copy does.
Status fill_image_copy(OpenImage& src, const SourcePlan& plan,
                       std::vector<std::optional<ChunkDigest>> source_digests, CopyDestination& dst,
                       Pool& dst_io, const std::string& rbd_name,
                       const std::vector<bool>& confirmed, const Progress& progress,
                       CopyStats* stats) {
  CopyOptions options = default_copy_options("copy");
  options.confirmed = confirmed;
  options.source_digests = std::move(source_digests);
  options.record = [&dst_io, rbd_name](const std::vector<ChunkDigest>& digests) {
    return record_chunk_digests(dst_io, rbd_name, digests);
  };
  options.kill_after_chunks = fault_count("image.copy:kill-after-chunk");
  options.stop_after_chunks = fault_count("image.copy:stop-after-chunk");
  auto metadata = std::async(std::launch::async,
                             [&] { return copy_image_metadata(*src.image, *dst.image->image); });
  auto copied = copy_planned_image_data(src, plan, *dst.image, progress, options);
  Status s = metadata.get();
  if (!copied.ok()) return copied.status();
  if (!s.ok()) return s;
  if (stats) *stats = *copied;
  s = inject_fault("image.copy:after-data");
  if (!s.ok()) return s;
  s = metadata_remove(*dst.image->image, meta::kIncomplete);
  if (!s.ok() && s.err() != ENOENT) return s.Prefixed(image_spec(dst_io, rbd_name));
  s = complete_chunk_record(dst_io, rbd_name, dst.header);
  if (!s.ok()) return s;
  s = inject_fault("image.copy:before-complete");
  if (!s.ok()) return s;
  s = metadata_set(*dst.image->image, meta::kComplete, utc_now_iso8601());
  if (!s.ok()) return s;
  // Complete, still open and locked: a crash here leaves the lock to a dead
  // client (what release_dead_copier_lock is for).
  return inject_fault("image.copy:after-complete");
}

// The partial copy `rbd_name` in dst_io's pool, left by a run that did not
// finish: its record's header, or EBUSY when it has no record (not one of
// ours to continue) or its owner is still running (owner_is_running).
Result<PartialCopy> partial_copy(Pool& dst_io, const std::string& rbd_name,
                                 const std::string& backend) {
  uint64_t version = 0;
  auto header = read_chunk_record_header(dst_io, rbd_name, &version);
  if (!header.ok()) return header.status();
  if (!*header) {
    return Status::Busy("backend " + backend + " already has " + image_spec(dst_io, rbd_name) +
                        " without " + meta::kComplete +
                        " and without a chunk record: another "
                        "copy is in progress, or one was interrupted (rbdvol image delete " +
                        rbd_name.substr(kImagePrefix.size()) + " --backend " + backend +
                        " removes it once no client holds its lock)");
  }
  std::string how;
  auto running = owner_is_running(dst_io, rbd_name, (*header)->owner, &how);
  if (!running.ok()) return running.status();
  if (*running) {
    return Status::Busy("backend " + backend + ": " + image_spec(dst_io, rbd_name) +
                        " is being copied by process " + (*header)->owner + " (started " +
                        (*header)->started_at + ", " + how + ")");
  }
  return PartialCopy{**header, version};
}

// The source of an image copy: the first backend holding the image whose copy
// opens, at its snapshot if it has one, else its head (open_image_data_for_engine).
struct CopySource {
  PoolPtr io;
  ImageLocation location;
  std::string label;  // "backend fast images/image-<uuid>"
  std::unique_ptr<OpenImage> image;
  ImageStat info{};
};

Result<CopySource> open_first_source(Driver& driver, const ImageRecord& image) {
  Status last = Status::NotFound("image " + image.id + " has no location to copy from");
  for (const auto& l : image.locations) {
    Cluster* cluster = driver.cluster(l.backend);
    if (!cluster) continue;
    auto io = cluster->open_pool(l.pool);
    if (!io.ok()) {
      last = io.status();
      continue;
    }
    CopySource src;
    src.label = "backend " + l.backend + " " + image_spec(**io, l.rbd_name);
    auto opened = open_image_data_for_engine(**io, l.rbd_name, "backend " + l.backend);
    if (!opened.ok()) return opened.status();
    src.image = std::move(opened).value();
    auto info = stat_image(*src.image);
    if (!info.ok()) return info.status();
    src.info = *info;
    src.io = std::move(io).value();
    src.location = l;
    return src;
  }
  return last;
}

}  // namespace

Result<ImageLocation> copy_image_to_backend(Driver& driver, const ImageRecord& image,
                                            Cluster& target, const Progress& progress,
                                            CopyStats* stats, bool resume) {
  const std::string rbd_name = kImagePrefix + image.id;
  for (const auto& l : image.locations) {
    if (l.backend == target.id()) return l;
  }
  // The source is opened while the destination is looked at.
  auto opening = std::async(std::launch::async, [&] { return open_first_source(driver, image); });
  auto dst_io = target.open_image_pool();
  if (!dst_io.ok()) return dst_io.status();
  auto state = image_copy_state(**dst_io, image.id);
  if (!state.ok()) return state.status().Prefixed("backend " + target.id());
  const ImageLocation copy{target.id(), target.backend().image_pool, rbd_name};
  if (*state == CopyState::kComplete) return copy;

  // A partial copy from a run that died: continued with `resume`, else named.
  std::optional<PartialCopy> partial;
  std::vector<bool> confirmed;
  if (*state == CopyState::kPartial) {
    auto found = partial_copy(**dst_io, rbd_name, target.id());
    if (!found.ok()) return found.status();
    const ChunkRecordHeader* header = &found->header;
    auto digests = read_chunk_digests(**dst_io, rbd_name, *header);
    if (!digests.ok()) return digests.status();
    uint64_t done = 0;
    for (const auto& d : *digests) {
      confirmed.push_back(d.has_value());
      done += d.has_value();
    }
    if (!resume) {
      return Status::Exists(
          "backend " + target.id() + " has a partial copy " + image_spec(**dst_io, rbd_name) +
          " of image " + image.id + " left by an interrupted run (" + header->owner + ", started " +
          header->started_at + ", " + std::to_string(done) + " of " +
          std::to_string(header->chunks()) +
          " chunks confirmed): continue it with rbdvol image copy " + image.id + " --to " +
          target.id() + " --resume (image.copy with request field resume), or remove it with " +
          "rbdvol image delete " + image.id + " --backend " + target.id());
    }
    partial = *found;
  }

  const std::string what = "image " + image.id + " to backend " + target.id();
  auto src = opening.get();
  if (!src.ok()) return src.status().Prefixed(what);
  if (partial && src->info.size != partial->header.size) {
    // A resumed copy must continue the same source: same size, same chunks.
    return Status::Invalid("the partial copy " + image_spec(**dst_io, rbd_name) + " records " +
                           std::to_string(partial->header.size) + " bytes, but the source " +
                           src->label + " has " + std::to_string(src->info.size) +
                           "; remove it with rbdvol image delete " + image.id + " --backend " +
                           target.id());
  }
  // The destination is made (or opened) on a thread of its own while this one
  // lists the source's extents and reads its chunk record.
  auto made = std::async(std::launch::async, [&] {
    return prepare_destination(src->info, src->label, partial, **dst_io, rbd_name, target.id());
  });
  auto plan =
      plan_image_source(*src->image, partial ? partial->header.chunk_size : src->info.object_size);
  auto carried = plan.ok() ? source_chunk_digests(*src->io, src->location.rbd_name, *plan)
                           : Result<std::vector<std::optional<ChunkDigest>>>(plan.status());
  auto dst = made.get();
  if (!dst.ok()) return dst.status().Prefixed(what);
  if (plan.ok()) {
    // What the copy writes (the source's allocated pieces, less what a
    // resumed copy confirmed) must fit: a pool that cannot take it gets
    // nothing but the empty copy, removed again below.
    uint64_t data_bytes = 0;
    for (const auto& piece : plan->pieces) {
      const uint64_t chunk = plan->chunk_size ? piece.offset / plan->chunk_size : 0;
      if (chunk < confirmed.size() && confirmed[chunk]) continue;
      data_bytes += piece.length;
    }
    Status room = require_pool_space(**dst_io, data_bytes, "the copy of " + what);
    if (!room.ok() && partial) return room;  // what it confirmed stays, to resume later
    if (!room.ok()) return close_and_remove(std::move(dst->image), **dst_io, rbd_name, room);
  }
  Status s = carried.ok() ? fill_image_copy(*src->image, *plan, std::move(carried).value(), *dst,
                                            **dst_io, rbd_name, confirmed, progress, stats)
                          : carried.status();
  if (!s.ok()) {
    return close_and_remove(std::move(dst->image), **dst_io, rbd_name,
                            s.Prefixed("image " + image.id + " from backend " +
                                       src->location.backend + " to backend " + target.id()));
  }
  return copy;
}

namespace {

// Waits while another process writes the copy `rbd_name` of image `uuid`
// into `io`'s pool, reporting how far it got (stage "wait": bytes of its
// confirmed chunks / the image's size; the size itself once it is complete):
// until the copy is complete, is gone (its process failed and removed it),
// or its process is no longer running (owner_is_running). EBUSY (`busy`,
// then why) when its record (confirmed chunks, owner) stays unchanged for
// `timeout`, and `busy` itself when there is no copy to wait for (the EBUSY
// was about something else).
Status await_other_copy(Pool& io, const std::string& rbd_name, const std::string& uuid,
                        std::chrono::seconds timeout, const Status& busy,
                        const Progress& progress) {
  using Clock = std::chrono::steady_clock;
  const auto poll = std::chrono::milliseconds(250);
  std::string last_seen;  // the record's owner and version at the last change
  auto last_change = Clock::now();
  auto next_count = last_change;
  std::string counted;  // how far the copy got, at the last count
  uint64_t size = 0;
  bool saw_copy = false;
  // Counting the confirmed chunks reads the whole record: every poll for up
  // to 1024 chunks (4 GiB in 4 MiB chunks), less often in proportion above.
  auto count = [&](const ChunkRecordHeader& h) -> Status {
    auto digests = read_chunk_digests(io, rbd_name, h);
    if (!digests.ok()) return digests.status();
    uint64_t chunks = 0, bytes = 0;
    for (const auto& d : *digests) {
      if (!d) continue;
      ++chunks;
      bytes += d->length;
    }
    progress("wait", bytes, h.size);
    counted = h.owner + " has " + std::to_string(chunks) + " of " + std::to_string(h.chunks()) +
              " chunks confirmed";
    next_count = Clock::now() + poll * std::max<uint64_t>(1, h.chunks() / 1024);
    return Status::Ok();
  };
  for (;;) {
    auto state = image_copy_state(io, uuid);
    if (!state.ok()) return state.status();
    if (*state == CopyState::kComplete) {
      if (size) progress("wait", size, size);
      return Status::Ok();
    }
    if (*state == CopyState::kNone) return saw_copy ? Status::Ok() : busy;
    saw_copy = true;
    uint64_t version = 0;
    auto header = read_chunk_record_header(io, rbd_name, &version);
    if (!header.ok()) return header.status();
    std::string seen = "no chunk record";
    if (*header) {
      const ChunkRecordHeader& h = **header;
      auto running = owner_is_running(io, rbd_name, h.owner);
      if (!running.ok() && running.status().err() == ENOENT) return Status::Ok();  // gone
      if (!running.ok()) return running.status();
      if (!*running) return Status::Ok();
      size = h.size;
      // Every write to the record (digests confirmed, a new owner) changes
      // its version: progress, seen without reading the digests.
      seen = h.owner + ", record version " + std::to_string(version);
      if (seen != last_seen && Clock::now() >= next_count) {
        Status s = count(h);
        if (!s.ok()) return s;
      }
    }
    if (seen != last_seen) {
      last_seen = seen;
      last_change = Clock::now();
    } else if (Clock::now() - last_change >= timeout) {
      if (*header) {
        Status s = count(**header);
        if (!s.ok()) return s;
      }
      return Status::Busy(busy.message() + "; waited " + std::to_string(timeout.count()) +
                          " s (copy_wait_timeout) without progress: " + (*header ? counted : seen));
    }
    std::this_thread::sleep_for(poll);
  }
}

}  // namespace

Status release_dead_copier_lock(Pool& io, const std::string& rbd_name) {
  ASSIGN_OR_RETURN(auto header, read_chunk_record_header(io, rbd_name));
  // A record from before clients were recorded names no client: nothing
  // proves whose lock it is.
  if (!header || header->client.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(auto holder, exclusive_lock_holder(io, rbd_name));
  // Held by anyone but the copier's client (another volume create making
  // the snapshot, say): theirs, alive or not, for librbd to sort out.
  if (!holder || holder->entity != header->client) return Status::Ok();
  // The copier's client holds it. Dead only when its process is proven
  // gone: on this host, its pid is not running; on another, its client no
  // longer watches the image (what librbd itself waits for). A dead
  // client's watch lingers for osd_client_watch_timeout (30 s), which is
  // the wait this saves on this host.
  if (owner_is_on_this_host(header->owner)) {
    ASSIGN_OR_RETURN(bool running, owner_is_running(io, rbd_name, header->owner));
    if (running) return Status::Ok();
  } else if (holder->watching) {
    return Status::Ok();
  }
  const std::string what = "the lock of " + image_spec(io, rbd_name) + " held by " +
                           holder->entity + " of dead process " + header->owner;
  auto broken = break_lock_held_by(io, rbd_name, holder->address);
  if (!broken.ok()) return broken.status().Prefixed(what);
  if (!*broken) return Status::Ok();
  // Blocklisted: the OSDs drop its watch once they have the new map. Until
  // then the snapshot's notify to the image's watchers would wait for it.
  return wait_until_unwatched(io, rbd_name, holder->address, std::chrono::seconds(10))
      .Prefixed(what);
}

Result<ImageLocation> copy_or_await_image(Driver& driver, const ImageRecord& image, Cluster& target,
                                          const Progress& progress, bool* waited,
                                          bool* copied_here) {
  const std::chrono::seconds timeout(driver.config().copy_wait_timeout);
  for (;;) {
    CopyStats stats;
    auto copied = copy_image_to_backend(driver, image, target, progress, &stats);
    if (copied_here) *copied_here = copied.ok() && stats.chunk_size != 0;
    if (copied.ok() || copied.status().err() != EBUSY) return copied;
    auto io = target.open_image_pool();
    if (!io.ok()) return io.status();
    Status s = await_other_copy(**io, kImagePrefix + image.id, image.id, timeout, copied.status(),
                                progress);
    if (!s.ok()) return s;
    if (waited) *waited = true;
  }
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
          io.ok() ? remove_image_and_snapshots(**io, kImagePrefix + image->id) : io.status();
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
