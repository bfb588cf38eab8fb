#include "plugin/ceph/rbd_image.h"

#include "plugin/ceph/full_pool.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/chunk_record.h"

#include <rbd/librbd.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <thread>

namespace rbdvol::plugin {

std::string image_spec(rados_ioctx_t io, const std::string& name) {
  char pool[256] = {0};
  int r = rados_ioctx_get_pool_name(io, pool, sizeof(pool) - 1);
  return (r < 0 ? std::string("?") : std::string(pool)) + "/" + name;
}

Result<ImagePtr> open_image(rados_ioctx_t io, const std::string& name, bool read_only) {
  rbd_image_t image = nullptr;
  int r = read_only ? rbd_open_read_only(io, name.c_str(), &image, nullptr)
                    : rbd_open(io, name.c_str(), &image, nullptr);
  if (r < 0) {
    return Status::Error(r, "cannot open image " + image_spec(io, name) + ": " + ceph_strerror(r));
  }
  return ImagePtr(image);
}

Result<ImagePtr> open_image_at(rados_ioctx_t io, const std::string& name, const std::string& snap) {
  rbd_image_t image = nullptr;
  int r = rbd_open_read_only(io, name.c_str(), &image, snap.empty() ? nullptr : snap.c_str());
  if (r < 0) {
    return Status::Error(r, "cannot open " + image_spec(io, name) +
                                (snap.empty() ? "" : "@" + snap) + ": " + ceph_strerror(r));
  }
  return ImagePtr(image);
}

Result<ImagePtr> open_image_data(rados_ioctx_t io, const std::string& name, std::string* snapshot) {
  rbd_image_t image = nullptr;
  int r = rbd_open_read_only(io, name.c_str(), &image, kImageSnapshot.c_str());
  if (r == 0) {
    if (snapshot) *snapshot = kImageSnapshot;
    return ImagePtr(image);
  }
  if (r != -ENOENT) {
    return Status::Error(
        r, "cannot open " + image_spec(io, name) + "@" + kImageSnapshot + ": " + ceph_strerror(r));
  }
  // No snapshot yet (no volume was cloned from this copy), or no image: the
  // head says which.
  if (snapshot) *snapshot = "";
  return open_image_at(io, name, "");
}

Result<bool> ensure_image_snapshot(rados_ioctx_t io, const std::string& rbd_name,
                                   const std::function<Status()>& before_create) {
  const std::string spec = image_spec(io, rbd_name) + "@" + kImageSnapshot;
  bool created = false;
  bool hook_ran = false;
  // A snapshot another process is making at the same moment may not be
  // known yet to this handle (create said EEXIST, protect says ENOENT): a
  // new handle, a moment later, sees it.
  for (int attempt = 0;; ++attempt) {
    auto image = open_image(io, rbd_name, false);
    if (!image.ok()) return image.status();
    int is_protected = 0;
    int r = rbd_snap_is_protected(image->get(), kImageSnapshot.c_str(), &is_protected);
    if (r == 0 && is_protected) return created;
    if (r == -ENOENT) {
      if (before_create && !hook_ran) {
        // Run before this handle asks for the image's lock: one that asked
        // while a dead client held it would wait for that client's answer
        // (rbd_request_timed_out_seconds, 30 s) even after the hook broke
        // the lock. A fresh handle is opened for the snapshot.
        image->reset();
        RETURN_IF_ERROR(before_create());
        hook_ran = true;
        continue;
      }
      r = rbd_snap_create(image->get(), kImageSnapshot.c_str());
      if (r == 0) {
        created = true;
      } else if (r != -EEXIST) {
        return Status::Error(r, "cannot create snapshot " + spec + ": " + ceph_strerror(r));
      }
    } else if (r < 0) {
      return Status::Error(r, "cannot read snapshot " + spec + ": " + ceph_strerror(r));
    }
    r = rbd_snap_protect(image->get(), kImageSnapshot.c_str());
    if (r == 0 || r == -EBUSY) return created;  // EBUSY: already protected
    if (r == -ENOENT && attempt < 5) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50 * (attempt + 1)));
      continue;
    }
    return Status::Error(r, "cannot protect snapshot " + spec + ": " + ceph_strerror(r));
  }
}

Status flatten_image(rbd_image_t image, const std::string& label,
                     const std::function<void(uint64_t done, uint64_t total)>& progress) {
  // librbd counts objects, and may not report the last one; the caller gets
  // bytes of the image's size, and the whole size once it is flat.
  struct Report {
    const std::function<void(uint64_t, uint64_t)>& fn;
    uint64_t size;
  };
  uint64_t size = 0;
  int r = rbd_get_size(image, &size);
  if (r < 0) return Status::Error(r, "cannot read the size of " + label + ": " + ceph_strerror(r));
  Report report{progress, size};
  auto on_progress = [](uint64_t done, uint64_t total, void* arg) -> int {
    const auto* rep = static_cast<const Report*>(arg);
    if (rep->fn && total > 0) {
      const double part = static_cast<double>(std::min(done, total)) / static_cast<double>(total);
      rep->fn(static_cast<uint64_t>(part * static_cast<double>(rep->size)), rep->size);
    }
    return 0;
  };
  r = rbd_flatten_with_progress(image, on_progress, &report);
  if (r < 0) return Status::Error(r, "cannot flatten " + label + ": " + ceph_strerror(r));
  if (progress) progress(size, size);
  return Status::Ok();
}

Status image_exists(rados_ioctx_t io, const std::string& name) {
  auto image = open_image(io, name, true);
  return image.ok() ? Status::Ok() : image.status();
}

Result<uint64_t> image_size(rbd_image_t image) {
  uint64_t size = 0;
  int r = rbd_get_size(image, &size);
  if (r < 0) return Status::Error(r, std::string("cannot read image size: ") + ceph_strerror(r));
  return size;
}

Result<uint64_t> image_features(rbd_image_t image) {
  uint64_t features = 0;
  int r = rbd_get_features(image, &features);
  if (r < 0) return Status::Error(r, std::string("cannot read features: ") + ceph_strerror(r));
  return features;
}

Result<std::string> metadata_get(rbd_image_t image, const std::string& key) {
  std::string value(256, '\0');
  for (int attempt = 0; attempt < 4; ++attempt) {
    size_t len = value.size();
    int r = rbd_metadata_get(image, key.c_str(), value.data(), &len);
    if (r == -ERANGE) {
      value.resize(len);
      continue;
    }
    if (r < 0) {
      return Status::Error(r, "cannot read metadata " + key + ": " + ceph_strerror(r));
    }
    // On success librbd writes a NUL-terminated text and may leave len as it was.
    value.resize(std::strlen(value.c_str()));
    return value;
  }
  return Status::Error(EIO, "metadata " + key + " keeps changing size");
}

Status metadata_set(rbd_image_t image, const std::string& key, const std::string& value) {
  int r = rbd_metadata_set(image, key.c_str(), value.c_str());
  if (r < 0) return Status::Error(r, "cannot set metadata " + key + ": " + ceph_strerror(r));
  return Status::Ok();
}

Status metadata_set(librbd::Image& image, const std::string& key, const std::string& value) {
  int r = image.metadata_set(key, value);
  if (r < 0) return Status::Error(r, "cannot set metadata " + key + ": " + ceph_strerror(r));
  return Status::Ok();
}

Status metadata_remove(librbd::Image& image, const std::string& key) {
  int r = image.metadata_remove(key);
  if (r < 0) return Status::Error(r, "cannot remove metadata " + key + ": " + ceph_strerror(r));
  return Status::Ok();
}

Result<std::map<std::string, std::string>> metadata_list(librbd::Image& image,
                                                         const std::string& prefix) {
  std::map<std::string, std::string> result;
  std::string start;
  const uint64_t max = 512;
  for (;;) {
    std::map<std::string, ceph::bufferlist> pairs;
    int r = image.metadata_list(start, max, &pairs);
    if (r < 0) return Status::Error(r, std::string("cannot list metadata: ") + ceph_strerror(r));
    for (auto& [k, v] : pairs) {
      if (k.compare(0, prefix.size(), prefix) == 0) result[k] = v.to_str();
    }
    if (pairs.size() < max) break;
    start = pairs.rbegin()->first;
  }
  return result;
}

Result<std::map<std::string, std::string>> metadata_list(rbd_image_t image,
                                                         const std::string& prefix) {
  std::map<std::string, std::string> result;
  std::string start;
  for (;;) {
    size_t keys_len = 64 * 1024, vals_len = 256 * 1024;
    std::string keys(keys_len, '\0'), vals(vals_len, '\0');
    const uint64_t max = 512;
    int r = rbd_metadata_list(image, start.c_str(), max, keys.data(), &keys_len, vals.data(),
                              &vals_len);
    if (r == -ERANGE) {
      keys.resize(keys_len);
      vals.resize(vals_len);
      r = rbd_metadata_list(image, start.c_str(), max, keys.data(), &keys_len, vals.data(),
                            &vals_len);
    }
    if (r < 0) return Status::Error(r, std::string("cannot list metadata: ") + ceph_strerror(r));
    size_t kpos = 0, vpos = 0, count = 0;
    while (kpos < keys_len && keys[kpos] != '\0') {
      std::string k(keys.c_str() + kpos);
      std::string v(vals.c_str() + vpos);
      kpos += k.size() + 1;
      vpos += v.size() + 1;
      ++count;
      start = k;
      if (k.compare(0, prefix.size(), prefix) == 0) result[k] = v;
    }
    if (count < max) break;
  }
  return result;
}

Result<std::vector<SnapshotInfo>> list_snapshots(rbd_image_t image) {
  int max = 16;
  for (;;) {
    std::vector<rbd_snap_info_t> snaps(max);
    int r = rbd_snap_list(image, snaps.data(), &max);
    if (r == -ERANGE) continue;
    if (r < 0) return Status::Error(r, std::string("cannot list snapshots: ") + ceph_strerror(r));
    std::vector<SnapshotInfo> result;
    for (int i = 0; i < r; ++i) result.push_back({snaps[i].id, snaps[i].name, snaps[i].size});
    rbd_snap_list_end(snaps.data());
    return result;
  }
}

Result<ParentInfo> parent_of(rbd_image_t image) {
  rbd_linked_image_spec_t parent{};
  rbd_snap_spec_t snap{};
  int r = rbd_get_parent(image, &parent, &snap);
  if (r == -ENOENT) return ParentInfo{};
  if (r < 0) return Status::Error(r, std::string("cannot read parent: ") + ceph_strerror(r));
  ParentInfo info{true, parent.pool_name, parent.image_name, snap.name};
  rbd_linked_image_spec_cleanup(&parent);
  rbd_snap_spec_cleanup(&snap);
  return info;
}

Result<std::vector<std::string>> list_images(rados_ioctx_t io) {
  size_t max = 64;
  for (;;) {
    std::vector<rbd_image_spec_t> specs(max);
    int r = rbd_list2(io, specs.data(), &max);
    if (r == -ERANGE) continue;
    if (r < 0) {
      return Status::Error(r,
                           "cannot list images in " + image_spec(io, "") + ": " + ceph_strerror(r));
    }
    std::vector<std::string> names;
    for (size_t i = 0; i < max; ++i) names.emplace_back(specs[i].name);
    rbd_image_spec_list_cleanup(specs.data(), max);
    return names;
  }
}

Status break_exclusive_lock(rados_ioctx_t io, const std::string& rbd_name) {
  auto image = open_image(io, rbd_name, false);
  if (!image.ok()) return image.status();
  rbd_lock_mode_t mode;
  char* owners[8] = {nullptr};
  size_t count = 8;
  int r = rbd_lock_get_owners(image->get(), &mode, owners, &count);
  if (r == -ENOENT || (r == 0 && count == 0)) return Status::Ok();
  if (r < 0) {
    return Status::Error(
        r, "cannot read the lock owners of " + image_spec(io, rbd_name) + ": " + ceph_strerror(r));
  }
  Status s;
  for (size_t i = 0; i < count && s.ok(); ++i) {
    r = rbd_lock_break(image->get(), mode, owners[i]);
    if (r < 0 && r != -ENOENT) {
      s = Status::Error(r, "cannot break the lock " + std::string(owners[i]) + " on " +
                               image_spec(io, rbd_name) + ": " + ceph_strerror(r));
    }
  }
  rbd_lock_get_owners_cleanup(owners, count);
  return s;
}

Result<std::string> live_writer(rados_ioctx_t io, const std::string& name) {
  librados::IoCtx ioctx;
  librados::IoCtx::from_rados_ioctx_t(io, ioctx);
  librbd::RBD rbd;
  librbd::Image image;
  int r = rbd.open_read_only(ioctx, image, name.c_str(), nullptr);
  if (r < 0) {
    return Status::Error(r, "cannot open " + image_spec(io, name) + ": " + ceph_strerror(r));
  }
  uint64_t features = 0;
  r = image.features(&features);
  const bool locks = (features & RBD_FEATURE_EXCLUSIVE_LOCK) != 0;
  std::list<librbd::locker_t> lockers;
  bool exclusive = false;
  std::string tag;
  if (r >= 0 && locks) r = image.list_lockers(&lockers, &exclusive, &tag);
  std::list<librbd::image_watcher_t> watchers;
  if (r >= 0) r = image.list_watchers(watchers);
  if (r < 0) {
    return Status::Error(r, "cannot read the lock and watchers of " + image_spec(io, name) + ": " +
                                ceph_strerror(r));
  }
  for (const auto& watcher : watchers) {
    if (!locks) return watcher.addr;
    for (const auto& locker : lockers) {
      if (watcher.addr == locker.address) return locker.address;
    }
  }
  return std::string();
}

Status remove_image_and_snapshots(rados_ioctx_t io, const std::string& name) {
  {
    auto image = open_image(io, name, false);
    if (!image.ok()) return image.status().err() == ENOENT ? Status::Ok() : image.status();
    auto snaps = list_snapshots(image->get());
    if (!snaps.ok()) return snaps.status();
    for (const auto& snap : *snaps) {
      int is_protected = 0;
      if (rbd_snap_is_protected(image->get(), snap.name.c_str(), &is_protected) == 0 &&
          is_protected) {
        int r = rbd_snap_unprotect(image->get(), snap.name.c_str());
        if (r < 0) {
          return Status::Error(r, "cannot unprotect " + image_spec(io, name) + "@" + snap.name +
                                      ": " + ceph_strerror(r));
        }
      }
      int r = rbd_snap_remove(image->get(), snap.name.c_str());
      if (r < 0 && r != -ENOENT) {
        return Status::Error(r, "cannot remove snapshot " + image_spec(io, name) + "@" + snap.name +
                                    ": " + ceph_strerror(r));
      }
    }
  }
  int r = rbd_remove(io, name.c_str());
  if (r == -ENOENT || r == -EDQUOT || r == -ENOSPC) {
    // librbd's removal moves the image to the trash first, an omap write a
    // full pool refuses; it then answers ENOENT although the image is still
    // there. Its data is freed by hand then (full_pool.h).
    Status there = image_exists(io, name);
    if (there.ok()) {
      auto space = pool_space(io);
      if (space.ok() && space->full) {
        Status s = remove_image_from_full_pool(io, name, kFullPoolWaitSeconds);
        if (!s.ok()) return s;
        r = 0;
      } else {
        return Status::Error(r == -ENOENT ? EIO : r, "cannot remove image " + image_spec(io, name) +
                                                         ": librbd said " + ceph_strerror(r) +
                                                         ", but the image is still there");
      }
    } else if (there.err() != ENOENT) {
      return there;
    }
  }
  if (r < 0 && r != -ENOENT) {
    return Status::Error(r,
                         "cannot remove image " + image_spec(io, name) + ": " + ceph_strerror(r));
  }
  // Its chunk record goes with it (an image removed before this existed may
  // have left one: ENOENT or not, it is removed here).
  return remove_chunk_record(io, name);
}

Result<std::optional<LockHolder>> exclusive_lock_holder(rados_ioctx_t io, const std::string& name) {
  librados::IoCtx ioctx;
  librados::IoCtx::from_rados_ioctx_t(io, ioctx);
  librbd::RBD rbd;
  librbd::Image image;
  int r = rbd.open_read_only(ioctx, image, name.c_str(), nullptr);
  if (r < 0) {
    return Status::Error(r, "cannot open " + image_spec(io, name) + ": " + ceph_strerror(r));
  }
  uint64_t features = 0;
  r = image.features(&features);
  if (r >= 0 && (features & RBD_FEATURE_EXCLUSIVE_LOCK) == 0) return std::optional<LockHolder>();
  std::list<librbd::locker_t> lockers;
  bool exclusive = false;
  std::string tag;
  if (r >= 0) r = image.list_lockers(&lockers, &exclusive, &tag);
  std::list<librbd::image_watcher_t> watchers;
  if (r >= 0) r = image.list_watchers(watchers);
  if (r < 0) {
    return Status::Error(r, "cannot read the lock and watchers of " + image_spec(io, name) + ": " +
                                ceph_strerror(r));
  }
  if (lockers.empty()) return std::optional<LockHolder>();
  LockHolder holder;
  holder.entity = lockers.front().client;
  holder.address = lockers.front().address;
  for (const auto& w : watchers) holder.watching = holder.watching || w.addr == holder.address;
  return std::optional<LockHolder>(holder);
}

Result<bool> break_lock_held_by(rados_ioctx_t io, const std::string& name,
                                const std::string& address) {
  auto image = open_image(io, name, false);
  if (!image.ok()) return image.status();
  // librbd names a lock's owner by its client's address (rbd_lock_get_owners).
  const int r = rbd_lock_break(image->get(), RBD_LOCK_MODE_EXCLUSIVE, address.c_str());
  // ENOENT: no lock any more; EBUSY: another client holds it now.
  if (r == -ENOENT || r == -EBUSY) return false;
  if (r < 0) {
    return Status::Error(r, "cannot break the lock of " + address + " on " + image_spec(io, name) +
                                ": " + ceph_strerror(r));
  }
  return true;
}

Status wait_until_unwatched(rados_ioctx_t io, const std::string& name, const std::string& address,
                            std::chrono::milliseconds timeout) {
  librados::IoCtx ioctx;
  librados::IoCtx::from_rados_ioctx_t(io, ioctx);
  librbd::RBD rbd;
  librbd::Image image;
  int r = rbd.open_read_only(ioctx, image, name.c_str(), nullptr);
  if (r < 0) {
    return Status::Error(r, "cannot open " + image_spec(io, name) + ": " + ceph_strerror(r));
  }
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::list<librbd::image_watcher_t> watchers;
    r = image.list_watchers(watchers);
    if (r < 0) {
      return Status::Error(
          r, "cannot list the watchers of " + image_spec(io, name) + ": " + ceph_strerror(r));
    }
    bool watching = false;
    for (const auto& w : watchers) watching = watching || w.addr == address;
    if (!watching) return Status::Ok();
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status::Error(ETIMEDOUT, "client " + address + " still watches " +
                                          image_spec(io, name) + " after its lock was broken");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace rbdvol::plugin
