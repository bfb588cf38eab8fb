// Small checked helpers over the Env (env.h) for the image calls the
// operations share. Every failure keeps librbd's errno and names the image.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "plugin/ceph/cluster.h"
#include "plugin/ceph/env.h"
#include "status/status.h"

namespace rbdvol::plugin {

// "volumes/volume-...": how messages name an image.
std::string image_spec(Pool& io, const std::string& name);

Result<ImagePtr> open_image(Pool& io, const std::string& name, bool read_only);

// Opens `name` read-only at snapshot `snap` ("" = its head); errors name
// pool/image@snap.
Result<ImagePtr> open_image_at(Pool& io, const std::string& name, const std::string& snap);

// Opens an image copy's bytes read-only: at its snapshot kImageSnapshot when
// it has one, else at its head. Both hold the same bytes (a complete copy is
// never written again; naming.h). When `snapshot` is given it receives what
// was opened: kImageSnapshot or "" (the head). ENOENT when the image does not
// exist; errors name pool/image.
Result<ImagePtr> open_image_data(Pool& io, const std::string& name,
                                 std::string* snapshot = nullptr);

// Makes the snapshot kImageSnapshot of image copy `rbd_name` if it is absent
// and protects it, so volumes can be cloned from it. Returns whether this call
// created it: false when it was there, protected, before the call; always true
// for the call that made it. Safe against another process doing the same at
// the same moment: a snapshot it made counts as there (create -EEXIST), and so
// does a protection it made (protect -EBUSY). In such a race both calls may
// return true: librbd turns the EEXIST of a create it sent to the image's
// lock owner into success. Other errors keep librbd's errno and name
// pool/image@snap and the step that failed.
// `before_create`, when given, runs once the snapshot is known to be absent,
// right before this call makes it; its error is returned.
Result<bool> ensure_image_snapshot(Pool& io, const std::string& rbd_name,
                                   const std::function<Status()>& before_create = nullptr);

// Flattens a clone, reporting progress(done, total) when given, in bytes of
// the image's size (librbd's share of objects done), the last call (size,
// size); errors name `label`.
Status flatten_image(RbdImage& image, const std::string& label,
                     const std::function<void(uint64_t done, uint64_t total)>& progress = nullptr);

// ENOENT when the image does not exist.
Status image_exists(Pool& io, const std::string& name);

Result<uint64_t> image_size(RbdImage& image);
Result<uint64_t> image_features(RbdImage& image);

// Image metadata ("image-meta" in rbd's words). ENOENT when the key is not set.
Result<std::string> metadata_get(RbdImage& image, const std::string& key);
Status metadata_set(RbdImage& image, const std::string& key, const std::string& value);
// Every key that starts with `prefix`.
Result<std::map<std::string, std::string>> metadata_list(RbdImage& image,
                                                         const std::string& prefix);
// ENOENT when the key is not set.
Status metadata_remove(RbdImage& image, const std::string& key);

Result<std::vector<SnapshotInfo>> list_snapshots(RbdImage& image);

Result<ParentInfo> parent_of(RbdImage& image);

// Names of the images in `io`'s pool.
Result<std::vector<std::string>> list_images(Pool& io);

// Breaks image `name`'s exclusive lock when, and only when, its holder is one
// of `dead_clients` ("client.<instance id>"): the clients a chunk record
// names as the image's writers, whose process the caller found gone
// (recorded_writer_clients, owner_is_running). librbd blocklists the
// holder's client first; without the break, librbd would wait for the dead
// client's watch to expire (30 s) before letting anyone write.
// Between that finding and this call another run may have taken the image
// over: a lock held by any other client (a live writer) is left alone, EBUSY
// naming it ("image P/N is being written by client.4711 (ADDR); not
// breaking its lock"), and so is one that changes hands during the call
// (librbd breaks a lock only while the owner it was given holds it). No
// lock, or one held by this connection's own client, is success (nothing to
// break). ENOENT when the image does not exist.
Status break_dead_writer_lock(Pool& io, const std::string& name,
                              const std::vector<std::string>& dead_clients);

// The client address of a live writer of the image: the holder of its
// exclusive lock while that client still watches the image (librbd's own
// test before it breaks a lock); for an image without the exclusive-lock
// feature, any client that has it open read-write (and so watches it). ""
// when there is none. A client that died keeps its watch until the OSDs
// drop it: after osd_client_watch_timeout (30 s by default), or at once when
// the client is blocklisted. The image is opened read-only, which sets no
// watch.
Result<std::string> live_writer(Pool& io, const std::string& name);

// The holder of an image's exclusive lock, as `rbd lock ls` shows it.
struct LockHolder {
  std::string entity;     // "client.<instance id>"
  std::string address;    // its client's address, "127.0.0.1:0/<nonce>"
  bool watching = false;  // that client still watches the image
};

// The holder of image `name`'s exclusive lock; nullopt when it has none (or
// no exclusive-lock feature). The image is opened read-only, which sets no
// watch.
Result<std::optional<LockHolder>> exclusive_lock_holder(Pool& io, const std::string& name);

// Breaks image `name`'s exclusive lock if, and only if, the client at
// `address` (LockHolder::address; its nonce makes it one client instance)
// still holds it, as `rbd lock rm` does: librbd blocklists that client
// (rbd_blocklist_on_break_lock), then breaks the lock. For a holder proven
// dead: the caller's proof is about that client, and librbd checks the
// holder again in the same call, so a lock that changed hands meanwhile is
// left alone. Returns whether it broke the lock.
Result<bool> break_lock_held_by(Pool& io, const std::string& name, const std::string& address);

// Waits (at most `timeout`) until client `address` no longer watches image
// `name`: after its lock was broken with a blocklist, the OSD drops its watch
// once it has the new OSD map. Until then a notify to the image's watchers
// (every snapshot sends one) would wait for that dead watch to time out.
// ETIMEDOUT when it still watches then.
Status wait_until_unwatched(Pool& io, const std::string& name, const std::string& address,
                            std::chrono::milliseconds timeout);

// Removes an image together with its snapshots (unprotecting them) and its
// chunk record (chunk_record.h). Used to undo a create that failed half way;
// ENOENT counts as success.
Status remove_image_and_snapshots(Pool& io, const std::string& name);

}  // namespace rbdvol::plugin
