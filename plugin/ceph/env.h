// The plugin's narrow interface over what it uses of librados and librbd, as
// leveldb's Env is over files and threads. Everything above ceph/ reaches a
// cluster through these classes only, so unit tests run the operations over
// an in-memory implementation (tests/unit/memory_env.h) and the shipped
// plugin over librados/librbd's C++ API (ceph_env.cc, ceph_env()).
//
// Errors keep Ceph's errno (ENOENT, EEXIST, EBUSY, ECANCELED for a failed
// version assertion, ...) with a message naming the object or image, so the
// callers can tell them apart as they did with the raw return values.
// Every object returned is owned by the caller (std::unique_ptr); an image
// or pool handle must not outlive the Connection it came from.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <rados/buffer.h>

#include "config/config.h"
#include "status/status.h"

namespace rbdvol::plugin {

// strerror of a librados/librbd return value (negative errno). A full
// cluster or pool says so: rbdvol's writes carry librados' full-try flag
// (Connection::open_pool), so ENOSPC and EDQUOT mean that, at once.
std::string ceph_strerror(int r);

// A Status as librados/librbd's return value: 0, or the negative errno. For
// callers that word their own message around the errno.
inline int as_errno(const Status& s) { return s.ok() ? 0 : -s.err(); }

// librbd's feature bits, as rbdvol names them (librbd.h's RBD_FEATURE_*).
namespace feature {
inline constexpr uint64_t kLayering = 1ULL << 0;
inline constexpr uint64_t kExclusiveLock = 1ULL << 2;
inline constexpr uint64_t kObjectMap = 1ULL << 3;
inline constexpr uint64_t kFastDiff = 1ULL << 4;
inline constexpr uint64_t kDeepFlatten = 1ULL << 5;
inline constexpr uint64_t kJournaling = 1ULL << 6;
inline constexpr uint64_t kStripingV2 = 1ULL << 1;
inline constexpr uint64_t kDataPool = 1ULL << 7;
inline constexpr uint64_t kOperations = 1ULL << 8;
inline constexpr uint64_t kMigrating = 1ULL << 9;
inline constexpr uint64_t kNonPrimary = 1ULL << 10;
}  // namespace feature

struct SnapshotInfo {
  uint64_t id = 0;
  std::string name;
  uint64_t size = 0;
};

// What a snapshot belongs to: a user's (or rbdvol's) snapshot, a group's, or
// one librbd moved to the trash because clones still needed it when it was
// removed (`trash_original_name` then holds its name before).
struct SnapshotNamespace {
  enum class Kind { kUser, kGroup, kTrash, kOther } kind = Kind::kUser;
  std::string trash_original_name;
};

struct ParentInfo {
  bool has_parent = false;
  std::string pool;
  std::string image;
  std::string snapshot;
};

// A client holding a lock on an image, as `rbd lock ls` shows it.
struct ImageLocker {
  std::string client;   // "client.<instance id>"
  std::string address;  // its client's address, "127.0.0.1:0/<nonce>"
};

// A client holding an advisory lock on an object, as `rados lock info` shows
// it.
struct ObjectLocker {
  std::string client;   // "client.<instance id>"
  std::string cookie;
  std::string address;  // "127.0.0.1:0/<nonce>"
};

// An image in the same cluster, as "pool/image" for messages and answers.
struct LinkedImage {
  int64_t pool_id = 0;
  std::string pool;
  std::string pool_namespace;
  std::string image_id;
  std::string image;
  bool trash = false;
  std::string spec() const { return pool + "/" + image; }
};

struct ImageStat {
  uint64_t size = 0;
  uint64_t object_size = 0;
  int order = 0;
  uint64_t num_objs = 0;
  std::string block_name_prefix;  // "rbd_data.<id>": the data objects' names
};

// Options of a new image; 0 leaves librbd's default.
struct ImageOptions {
  int order = 0;
  uint64_t features = 0;
  bool features_set = false;
};

// An open RBD image. Opened at a snapshot it is read-only and reads that
// snapshot's bytes; children() then lists the clones of that snapshot.
class RbdImage {
 public:
  virtual ~RbdImage() = default;

  // How messages name it: "pool/image" (plus "@snap" when opened at one).
  virtual std::string spec() const = 0;

  virtual Result<std::string> id() = 0;
  virtual Result<uint64_t> size() = 0;
  virtual Result<ImageStat> stat() = 0;
  virtual Result<uint64_t> features() = 0;
  virtual Status update_features(uint64_t features, bool enabled) = 0;
  virtual Status rebuild_object_map() = 0;
  // Never shrinks unless `allow_shrink`.
  virtual Status resize(uint64_t size, bool allow_shrink) = 0;
  virtual Result<timespec> create_timestamp() = 0;

  // Snapshots. Missing ones give ENOENT; create of an existing one EEXIST;
  // unprotect of one with clones EBUSY; protect of a protected one EBUSY.
  virtual Result<std::vector<SnapshotInfo>> list_snapshots() = 0;
  virtual Result<bool> snap_exists(const std::string& name) = 0;
  virtual Status snap_create(const std::string& name) = 0;
  virtual Status snap_remove(const std::string& name) = 0;
  virtual Status snap_remove_by_id(uint64_t id) = 0;
  virtual Status snap_protect(const std::string& name) = 0;
  virtual Status snap_unprotect(const std::string& name) = 0;
  virtual Result<bool> snap_is_protected(const std::string& name) = 0;
  virtual Status snap_rollback(const std::string& name) = 0;
  // Reads from then on go to that snapshot ("" = the head).
  virtual Status snap_set(const std::string& name) = 0;
  virtual Status snap_set_by_id(uint64_t id) = 0;
  virtual Result<timespec> snap_timestamp(uint64_t id) = 0;
  virtual Result<SnapshotNamespace> snap_namespace(uint64_t id) = 0;

  // Image metadata ("image-meta" in rbd's words). get and remove give ENOENT
  // for a key that is not set.
  virtual Result<std::string> metadata_get(const std::string& key) = 0;
  virtual Status metadata_set(const std::string& key, const std::string& value) = 0;
  virtual Status metadata_remove(const std::string& key) = 0;
  // Up to `max` pairs with keys after `start` (""), in key order.
  virtual Result<std::map<std::string, std::string>> metadata_list(const std::string& start,
                                                                   uint64_t max) = 0;

  // Clone tree.
  virtual Result<ParentInfo> parent() = 0;
  // The clones of the snapshot the image is open at, in any pool.
  virtual Result<std::vector<LinkedImage>> children() = 0;
  // progress(done, total) in librbd's units (objects).
  virtual Status flatten(const std::function<void(uint64_t done, uint64_t total)>& progress) = 0;

  // Locks and watchers: the exclusive lock's owners (their clients'
  // addresses), breaking the lock of one (librbd blocklists its client
  // first; ENOENT when there is no lock, EBUSY when another owner holds it
  // now), taking it; the lockers; the addresses of the clients watching the
  // header.
  virtual Result<std::vector<std::string>> lock_owners() = 0;
  virtual Status lock_break(const std::string& owner) = 0;
  virtual Status lock_acquire() = 0;
  virtual Result<std::vector<ImageLocker>> lockers() = 0;
  virtual Result<std::vector<std::string>> watchers() = 0;

  // Data. The asynchronous calls call `done` exactly once with the byte count
  // or a negative errno, from any thread (perhaps before they return); the
  // buffer list stays the caller's and untouched until then.
  using IoDone = std::function<void(ssize_t)>;
  virtual void aio_read(uint64_t offset, size_t len, ceph::bufferlist* out, IoDone done) = 0;
  virtual void aio_write(uint64_t offset, ceph::bufferlist* data, IoDone done) = 0;
  virtual Status flush() = 0;
  // Calls cb(offset, length, exists) for the allocated extents in
  // [offset, offset+length), whole objects, parent data included.
  virtual Status diff_iterate(uint64_t offset, uint64_t length,
                              const std::function<int(uint64_t, size_t, bool)>& cb) = 0;
};

// One write operation on one object, applied atomically: all or nothing.
struct ObjectWrite {
  bool create_exclusive = false;           // EEXIST when the object exists
  std::optional<uint64_t> assert_version;  // ERANGE/EOVERFLOW when it moved on
  std::map<std::string, std::string> omap_set;
  std::set<std::string> omap_remove;
};

struct OmapPage {
  std::map<std::string, std::string> values;
  bool more = false;
  uint64_t version = 0;  // the object's version as read
};

// One page of one object's omap, as Pool::omap_get reads it.
struct OmapRead {
  std::string oid;
  std::string start_after;
  std::string prefix;
  uint64_t max = 0;
};

// One pool of a cluster (a librados I/O context): its objects and its RBD
// images.
class Pool {
 public:
  virtual ~Pool() = default;

  virtual const std::string& name() const = 0;
  // This connection's client as lockers and records name it:
  // "client.<instance id>".
  virtual std::string client_name() = 0;
  // Another pool of the same cluster. ENOENT when there is none such.
  virtual Result<std::unique_ptr<Pool>> sibling(const std::string& pool) = 0;
  virtual Result<std::unique_ptr<Pool>> sibling_by_id(int64_t pool_id,
                                                      const std::string& pool_namespace) = 0;
  // A monitor command of the pool's cluster; its output. Errors name it.
  virtual Result<std::string> mon_command(const std::string& command) = 0;

  // Objects.
  virtual Status operate(const std::string& oid, const ObjectWrite& op) = 0;
  // ENOENT when the object does not exist.
  virtual Status remove(const std::string& oid) = 0;
  virtual Result<uint64_t> object_size(const std::string& oid) = 0;
  // Up to `max` omap pairs after `start_after` whose keys start with
  // `prefix`, in key order. ENOENT when the object does not exist.
  virtual Result<OmapPage> omap_get(const std::string& oid, const std::string& start_after,
                                    const std::string& prefix, uint64_t max) = 0;
  // Each of `reads` as omap_get would answer it, in the order given. On a
  // cluster all are in flight at once (asynchronous read operations, then
  // waited for), so that N objects cost about one round trip, not N.
  virtual std::vector<Result<OmapPage>> omap_get_many(const std::vector<OmapRead>& reads) = 0;
  // The values of those of `keys` that are set (others absent).
  virtual Result<OmapPage> omap_get_keys(const std::string& oid,
                                         const std::set<std::string>& keys) = 0;
  // Advisory exclusive lock `name` held by `cookie`; EBUSY when another
  // holds it, EEXIST when this cookie does. 0 seconds: no expiry.
  virtual Status lock_exclusive(const std::string& oid, const std::string& name,
                                const std::string& cookie, uint32_t seconds) = 0;
  virtual Status unlock(const std::string& oid, const std::string& name,
                        const std::string& cookie) = 0;
  // A lease: the same lock for `seconds` (> 0), or, when this client holds
  // it with `cookie` already, the same lock renewed for `seconds` from now
  // (librados' LOCK_FLAG_MAY_RENEW). EBUSY while another client or cookie
  // holds it; an expired lock is anyone's, as the OSD's clock tells.
  virtual Status lock_lease(const std::string& oid, const std::string& name,
                            const std::string& cookie, uint32_t seconds) = 0;
  // Who holds lock `name` on `oid` (expired holders included, until someone
  // locks it again). Empty when nobody does or the object does not exist.
  virtual Result<std::vector<ObjectLocker>> object_lockers(const std::string& oid,
                                                           const std::string& name) = 0;
  // Removes `client`'s hold with `cookie` (ENOENT when it has none).
  virtual Status break_object_lock(const std::string& oid, const std::string& name,
                                   const std::string& client, const std::string& cookie) = 0;

  // A watch on an object, kept while the returned handle lives (how a
  // process shows it is alive). ENOENT when the object does not exist.
  class Watch {
   public:
    virtual ~Watch() = default;
  };
  virtual Result<std::unique_ptr<Watch>> watch(const std::string& oid) = 0;
  // The addresses of the clients watching `oid`.
  virtual Result<std::vector<std::string>> object_watchers(const std::string& oid) = 0;

  // RBD images of the pool.
  virtual Result<std::vector<std::string>> list_images() = 0;
  virtual Status create_image(const std::string& name, uint64_t size,
                              const ImageOptions& options) = 0;
  // Clones `parent`@`snap` of this pool as `name` in `dst`.
  virtual Status clone_image(const std::string& parent, const std::string& snap, Pool& dst,
                             const std::string& name, const ImageOptions& options) = 0;
  virtual Status remove_image(const std::string& name) = 0;
  // `snap` "" = the head; read_only is implied at a snapshot.
  virtual Result<std::unique_ptr<RbdImage>> open_image(const std::string& name,
                                                       const std::string& snap, bool read_only) = 0;
  virtual Result<std::unique_ptr<RbdImage>> open_image_by_id(const std::string& id) = 0;
};

struct ClusterStat {
  uint64_t kb = 0, kb_used = 0, kb_avail = 0;
};

// One connection to a cluster (librados::Rados).
class Connection {
 public:
  virtual ~Connection() = default;
  // ENOENT when there is no such pool.
  virtual Result<std::unique_ptr<Pool>> open_pool(const std::string& pool) = 0;
  virtual Result<std::string> mon_command(const std::string& command) = 0;
  virtual Result<ClusterStat> cluster_stat() = 0;
  // A config option's value as the client sees it ("" when unset).
  virtual std::string conf_get(const std::string& option) = 0;
};

struct ConnectOptions {
  int connect_timeout_seconds = 10;
  int osd_op_timeout_seconds = 0;
};

class Env {
 public:
  virtual ~Env() = default;
  // Connects to `backend`'s cluster; errors name what is wrong (conf,
  // keyring, no answer within the timeout).
  virtual Result<std::unique_ptr<Connection>> connect(const config::Backend& backend,
                                                      const ConnectOptions& options) = 0;
};

// librados/librbd (C++ API). Lives as long as the process.
Env& ceph_env();

}  // namespace rbdvol::plugin
