#include "plugin/ceph/rbd_image.h"

#include "plugin/ceph/full_pool.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/chunk_record.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <thread>

namespace rbdvol::plugin {

std::string image_spec(Pool& io, const std::string& name) { return io.name() + "/" + name; }

Result<ImagePtr> open_image(Pool& io, const std::string& name, bool read_only) {
  return io.open_image(name, "", read_only);
}

Result<ImagePtr> open_image_at(Pool& io, const std::string& name, const std::string& snap) {
  return io.open_image(name, snap, true);
}

Result<ImagePtr> open_image_data(Pool& io, const std::string& name, std::string* snapshot) {
  auto image = io.open_image(name, kImageSnapshot, true);
  if (image.ok()) {
    if (snapshot) *snapshot = kImageSnapshot;
    return image;
  }
  if (image.status().err() != ENOENT) return image.status();
  // No snapshot yet (no volume was cloned from this copy), or no image: the
  // head says which.
  if (snapshot) *snapshot = "";
  return open_image_at(io, name, "");
}

Result<bool> ensure_image_snapshot(Pool& io, const std::string& rbd_name,
                                   const std::function<Status()>& before_create) {
  bool created = false;
  bool hook_ran = false;
  // A snapshot another process is making at the same moment may not be
  // known yet to this handle (create said EEXIST, protect says ENOENT): a
  // new handle, a moment later, sees it.
  for (int attempt = 0;; ++attempt) {
    ASSIGN_OR_RETURN(auto image, open_image(io, rbd_name, false));
    auto is_protected = image->snap_is_protected(kImageSnapshot);
    if (is_protected.ok() && *is_protected) return created;
    if (!is_protected.ok() && is_protected.status().err() != ENOENT) return is_protected.status();
    if (!is_protected.ok()) {
      if (before_create && !hook_ran) {
        // Run before this handle asks for the image's lock: one that asked
        // while a dead client held it would wait for that client's answer
        // (rbd_request_timed_out_seconds, 30 s) even after the hook broke
        // the lock. A fresh handle is opened for the snapshot.
        image.reset();
        RETURN_IF_ERROR(before_create());
        hook_ran = true;
        continue;
      }
      Status s = image->snap_create(kImageSnapshot);
      if (s.ok()) {
        created = true;
      } else if (s.err() != EEXIST) {
        return s;
      }
    }
    Status s = image->snap_protect(kImageSnapshot);
    if (s.ok() || s.err() == EBUSY) return created;  // EBUSY: already protected
    if (s.err() == ENOENT && attempt < 5) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
      continue;
    }
    return s;
  }
}

Status flatten_image(RbdImage& image, const std::string& label,
                     const std::function<void(uint64_t done, uint64_t total)>& progress) {
  // librbd counts objects, and may not report the last one; the caller gets
  // bytes of the image's size, and the whole size once it is flat.
  auto size = image.size();
  if (!size.ok()) return size.status().Prefixed(label);
  const uint64_t bytes = *size;
  Status s = image.flatten([&](uint64_t done, uint64_t total) {
    if (progress && total > 0) {
      const double part = static_cast<double>(std::min(done, total)) / static_cast<double>(total);
      progress(static_cast<uint64_t>(part * static_cast<double>(bytes)), bytes);
    }
  });
  if (!s.ok()) return s.Prefixed(label);
  if (progress) progress(bytes, bytes);
  return Status::Ok();
}

Status image_exists(Pool& io, const std::string& name) {
  auto image = open_image(io, name, true);
  return image.ok() ? Status::Ok() : image.status();
}

Result<uint64_t> image_size(RbdImage& image) { return image.size(); }

Result<uint64_t> image_features(RbdImage& image) { return image.features(); }

Result<std::string> metadata_get(RbdImage& image, const std::string& key) {
  return image.metadata_get(key);
}

Status metadata_set(RbdImage& image, const std::string& key, const std::string& value) {
  return image.metadata_set(key, value);
}

Status metadata_remove(RbdImage& image, const std::string& key) {
  return image.metadata_remove(key);
}

Result<std::map<std::string, std::string>> metadata_list(RbdImage& image,
                                                         const std::string& prefix) {
  std::map<std::string, std::string> result;
  std::string start;
  const uint64_t max = 512;
  for (;;) {
    ASSIGN_OR_RETURN(auto pairs, image.metadata_list(start, max));
    for (auto& [k, v] : pairs) {
      if (k.compare(0, prefix.size(), prefix) == 0) result[k] = v;
    }
    if (pairs.size() < max) break;
    start = pairs.rbegin()->first;
  }
  return result;
}

Result<std::vector<SnapshotInfo>> list_snapshots(RbdImage& image) { return image.list_snapshots(); }

Result<ParentInfo> parent_of(RbdImage& image) { return image.parent(); }

Result<std::vector<std::string>> list_images(Pool& io) { return io.list_images(); }

namespace {

Status live_holder(Pool& io, const std::string& rbd_name, const ImageLocker& holder) {
  return Status::Busy("image " + image_spec(io, rbd_name) + " is being written by " +
                      holder.client + " (" + holder.address + "); not breaking its lock");
}

}  // namespace

Status break_dead_writer_lock(Pool& io, const std::string& rbd_name,
                              const std::vector<std::string>& dead_clients) {
  ASSIGN_OR_RETURN(auto image, open_image(io, rbd_name, false));
  ASSIGN_OR_RETURN(auto lockers, image->lockers());
  if (lockers.empty()) return Status::Ok();
  const ImageLocker holder = lockers.front();
  if (holder.client == io.client_name()) return Status::Ok();
  if (std::find(dead_clients.begin(), dead_clients.end(), holder.client) == dead_clients.end()) {
    return live_holder(io, rbd_name, holder);
  }
  // librbd names the owner by its client's address, and breaks the lock only
  // while that owner still holds it.
  Status s = image->lock_break(holder.address);
  if (s.ok() || s.err() == ENOENT) return Status::Ok();  // ENOENT: released meanwhile
  if (s.err() != EBUSY) return s;
  // It changed hands since it was read: the new holder is not the dead writer.
  ASSIGN_OR_RETURN(lockers, image->lockers());
  if (lockers.empty() || lockers.front().client == io.client_name()) return Status::Ok();
  return live_holder(io, rbd_name, lockers.front());
}

Result<std::string> live_writer(Pool& io, const std::string& name) {
  ASSIGN_OR_RETURN(auto image, open_image(io, name, true));
  ASSIGN_OR_RETURN(uint64_t features, image->features());
  const bool locks = (features & feature::kExclusiveLock) != 0;
  std::vector<ImageLocker> lockers;
  if (locks) {
    ASSIGN_OR_RETURN(lockers, image->lockers());
  }
  ASSIGN_OR_RETURN(auto watchers, image->watchers());
  for (const auto& watcher : watchers) {
    if (!locks) return watcher;
    for (const auto& locker : lockers) {
      if (watcher == locker.address) return locker.address;
    }
  }
  return std::string();
}

Status remove_image_and_snapshots(Pool& io, const std::string& name) {
  {
    auto image = open_image(io, name, false);
    if (!image.ok()) return image.status().err() == ENOENT ? Status::Ok() : image.status();
    ASSIGN_OR_RETURN(auto snaps, (*image)->list_snapshots());
    for (const auto& snap : snaps) {
      auto is_protected = (*image)->snap_is_protected(snap.name);
      if (is_protected.ok() && *is_protected) {
        RETURN_IF_ERROR((*image)->snap_unprotect(snap.name));
      }
      Status s = (*image)->snap_remove(snap.name);
      if (!s.ok() && s.err() != ENOENT) return s;
    }
  }
  Status removed = io.remove_image(name);
  const int r = removed.ok() ? 0 : removed.err();
  if (r == ENOENT || r == EDQUOT || r == ENOSPC) {
    // librbd's removal moves the image to the trash first, an omap write a
    // full pool refuses; it then answers ENOENT although the image is still
    // there. Its data is freed by hand then (full_pool.h).
    Status there = image_exists(io, name);
    if (there.ok()) {
      auto space = pool_space(io);
      if (space.ok() && space->full) {
        RETURN_IF_ERROR(remove_image_from_full_pool(io, name, kFullPoolWaitSeconds));
        removed = Status::Ok();
      } else {
        return Status::Error(r == ENOENT ? EIO : r, "cannot remove image " + image_spec(io, name) +
                                                        ": librbd said " + ceph_strerror(r) +
                                                        ", but the image is still there");
      }
    } else if (there.err() != ENOENT) {
      return there;
    } else {
      removed = Status::Ok();
    }
  }
  if (!removed.ok()) return removed;
  // Its chunk record goes with it (an image removed before this existed may
  // have left one: ENOENT or not, it is removed here).
  return remove_chunk_record(io, name);
}

Result<std::optional<LockHolder>> exclusive_lock_holder(Pool& io, const std::string& name) {
  ASSIGN_OR_RETURN(auto image, open_image(io, name, true));
  ASSIGN_OR_RETURN(uint64_t features, image->features());
  if ((features & feature::kExclusiveLock) == 0) return std::optional<LockHolder>();
  ASSIGN_OR_RETURN(auto lockers, image->lockers());
  ASSIGN_OR_RETURN(auto watchers, image->watchers());
  if (lockers.empty()) return std::optional<LockHolder>();
  LockHolder holder;
  holder.entity = lockers.front().client;
  holder.address = lockers.front().address;
  for (const auto& w : watchers) holder.watching = holder.watching || w == holder.address;
  return std::optional<LockHolder>(holder);
}

Result<bool> break_lock_held_by(Pool& io, const std::string& name, const std::string& address) {
  ASSIGN_OR_RETURN(auto image, open_image(io, name, false));
  // librbd names a lock's owner by its client's address (lock_owners).
  Status s = image->lock_break(address);
  // ENOENT: no lock any more; EBUSY: another client holds it now.
  if (s.err() == ENOENT || s.err() == EBUSY) return false;
  RETURN_IF_ERROR(s);
  return true;
}

Status wait_until_unwatched(Pool& io, const std::string& name, const std::string& address,
                            std::chrono::milliseconds timeout) {
  ASSIGN_OR_RETURN(auto image, open_image(io, name, true));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    ASSIGN_OR_RETURN(auto watchers, image->watchers());
    bool watching = false;
    for (const auto& w : watchers) watching = watching || w == address;
    if (!watching) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Error(ETIMEDOUT, "client " + address + " still watches " +
                                          image_spec(io, name) + " after its lock was broken");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace rbdvol::plugin
