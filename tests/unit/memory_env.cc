#include "tests/unit/memory_env.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

namespace rbdvol::plugin::testing {

namespace {

constexpr uint64_t kObjectSize = 4ull << 20;  // order 22, librbd's default
constexpr uint64_t kDefaultFeatures = feature::kLayering | feature::kExclusiveLock |
                                      feature::kObjectMap | feature::kFastDiff |
                                      feature::kDeepFlatten;
const std::string kMetaPrefix = "metadata_";

Status err(int e, const std::string& what) {
  return Status::Error(e, what + ": " + ceph_strerror(-e));
}

timespec now() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return ts;
}

}  // namespace

// The cluster's state. Named, not anonymous: MemoryCluster, whose members
// these are, is not in an anonymous namespace.
namespace memory_state {

struct Object {
  std::map<std::string, std::string> omap;
  uint64_t version = 1;
  uint64_t size = 0;
  std::map<uint64_t, std::string> watchers;  // handle -> client address
  std::string lock_name, lock_cookie;
  uint64_t lock_client = 0;
  time_t lock_expires = 0;  // CLOCK_REALTIME seconds; 0: never
};

// An image's bytes: whole objects by object number.
using Data = std::map<uint64_t, std::string>;

struct Snap {
  uint64_t id = 0;
  std::string name;
  uint64_t size = 0;
  bool is_protected = false;
  bool trash = false;
  std::string original_name;  // before it went to the trash
  timespec made{};
  Data data;
};

// librbd's exclusive lock on an image: held by one image handle of one
// client ("client.<client>", at its address), taken by a write or by
// lock_acquire (`explicit_lock`: then not handed to another client that
// asks for it).
struct ExclusiveLock {
  uint64_t client = 0;
  uint64_t handle = 0;  // the MemoryImage; 0 for one a test planted
  std::string address;
  bool explicit_lock = false;
};

struct ParentRef {
  std::string pool;
  std::string image_id;
  uint64_t snap_id = 0;
};

struct Image {
  std::string id;
  std::string name;
  uint64_t size = 0;
  uint64_t features = kDefaultFeatures;
  int order = 22;
  timespec made{};
  Data data;
  std::vector<Snap> snaps;
  std::optional<ParentRef> parent;
  std::map<uint64_t, std::string> writers;  // open read-write: handle -> address
  // Watches on the header of clients that died with it open: the OSDs keep
  // them until osd_client_watch_timeout, or until the client is blocklisted.
  std::map<uint64_t, std::string> stale_watches;  // watch id -> address
  std::optional<ExclusiveLock> lock;
};

struct PoolState {
  int64_t id = 0;
  std::map<std::string, Object> objects;
  std::map<std::string, std::shared_ptr<Image>> images;  // by name
};

}  // namespace memory_state
using namespace memory_state;

struct MemoryCluster {
  std::mutex mu;
  bool reachable = true;
  std::map<std::string, PoolState> pools;
  uint64_t next_id = 1;
  std::set<uint64_t> blocklisted;  // client ids
  // MemoryEnv::before_next_write
  struct WriteHook {
    std::string pool, oid_prefix;
    std::function<void()> run;
  };
  std::optional<WriteHook> write_hook;

  PoolState* pool(const std::string& name) {
    auto it = pools.find(name);
    return it == pools.end() ? nullptr : &it->second;
  }
  std::pair<std::string, std::shared_ptr<Image>> image_by_id(const std::string& id) {
    for (auto& [pname, p] : pools) {
      for (auto& [iname, img] : p.images) {
        if (img->id == id) return {pname, img};
      }
    }
    return {"", nullptr};
  }
  // A client's address: one per connection, as librados' nonce is.
  std::string address(uint64_t client) { return "127.0.0.1:0/" + std::to_string(client); }
  // Blocklists `client`, as a lock break does: the OSDs drop its watches and
  // refuse its writes from then on.
  void blocklist(uint64_t client) {
    blocklisted.insert(client);
    const std::string addr = address(client);
    for (auto& [pname, p] : pools) {
      for (auto& [oid, o] : p.objects) {
        for (auto it = o.watchers.begin(); it != o.watchers.end();) {
          it = it->second == addr ? o.watchers.erase(it) : std::next(it);
        }
      }
      for (auto& [iname, img] : p.images) {
        for (auto* watches : {&img->writers, &img->stale_watches}) {
          for (auto it = watches->begin(); it != watches->end();) {
            it = it->second == addr ? watches->erase(it) : std::next(it);
          }
        }
        if (img->lock && img->lock->client == client) img->lock.reset();
      }
    }
  }
};

namespace {

Snap* find_snap(Image& image, const std::string& name) {
  for (auto& s : image.snaps) {
    if (s.name == name && !s.trash) return &s;
  }
  return nullptr;
}
Snap* find_snap_id(Image& image, uint64_t id) {
  for (auto& s : image.snaps) {
    if (s.id == id) return &s;
  }
  return nullptr;
}

class MemoryImage;

// Children of image `id` at snapshot `snap_id`, in the whole cluster.
std::vector<LinkedImage> children_of(MemoryCluster& c, const std::string& id, uint64_t snap_id) {
  std::vector<LinkedImage> out;
  for (auto& [pname, p] : c.pools) {
    for (auto& [iname, img] : p.images) {
      if (img->parent && img->parent->image_id == id && img->parent->snap_id == snap_id) {
        out.push_back({p.id, pname, "", img->id, iname, false});
      }
    }
  }
  return out;
}

class MemoryWatch : public Pool::Watch {
 public:
  MemoryWatch(std::shared_ptr<MemoryCluster> c, std::string pool, std::string oid, uint64_t handle)
      : c_(std::move(c)), pool_(std::move(pool)), oid_(std::move(oid)), handle_(handle) {}
  ~MemoryWatch() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    PoolState* p = c_->pool(pool_);
    if (!p) return;
    auto it = p->objects.find(oid_);
    if (it != p->objects.end()) it->second.watchers.erase(handle_);
  }

 private:
  std::shared_ptr<MemoryCluster> c_;
  std::string pool_, oid_;
  uint64_t handle_;
};

class MemoryImage : public RbdImage {
 public:
  // `client`: the instance id of the connection it was opened through.
  MemoryImage(std::shared_ptr<MemoryCluster> c, std::string pool, std::shared_ptr<Image> image,
              std::optional<uint64_t> snap_id, bool read_only, uint64_t handle, uint64_t client)
      : c_(std::move(c)),
        pool_(std::move(pool)),
        image_(std::move(image)),
        snap_id_(snap_id),
        read_only_(read_only),
        handle_(handle),
        client_(client) {
    if (!read_only_) image_->writers[handle_] = c_->address(client_);
  }
  // Closing releases the lock this handle holds, and its watch.
  ~MemoryImage() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    image_->writers.erase(handle_);
    if (image_->lock && image_->lock->handle == handle_) image_->lock.reset();
  }

  std::string spec() const override { return pool_ + "/" + image_->name; }

  Result<std::string> id() override { return image_->id; }
  Result<uint64_t> size() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    return current_size();
  }
  Result<ImageStat> stat() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    ImageStat st;
    st.size = current_size();
    st.object_size = kObjectSize;
    st.order = image_->order;
    st.num_objs = (st.size + kObjectSize - 1) / kObjectSize;
    st.block_name_prefix = "rbd_data." + image_->id;
    return st;
  }
  Result<uint64_t> features() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    return image_->features;
  }
  Status update_features(uint64_t features, bool enabled) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    if (enabled) {
      image_->features |= features;
    } else {
      image_->features &= ~features;
    }
    return Status::Ok();
  }
  Status rebuild_object_map() override { return Status::Ok(); }
  Status resize(uint64_t size, bool allow_shrink) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    if (size < image_->size && !allow_shrink) return err(-EINVAL, "cannot shrink " + spec());
    image_->size = size;
    return Status::Ok();
  }
  Result<timespec> create_timestamp() override { return image_->made; }

  Result<std::vector<SnapshotInfo>> list_snapshots() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    std::vector<SnapshotInfo> out;
    for (const auto& s : image_->snaps) {
      if (!s.trash) out.push_back({s.id, s.name, s.size});
    }
    return out;
  }
  Result<bool> snap_exists(const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    return find_snap(*image_, name) != nullptr;
  }
  Status snap_create(const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    if (find_snap(*image_, name)) return err(-EEXIST, "snapshot " + spec() + "@" + name);
    Snap s;
    s.id = c_->next_id++;
    s.name = name;
    s.size = image_->size;
    s.made = now();
    s.data = resolved_head();
    image_->snaps.push_back(std::move(s));
    return Status::Ok();
  }
  Status snap_remove(const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    Snap* s = find_snap(*image_, name);
    if (!s) return err(-ENOENT, "snapshot " + spec() + "@" + name);
    return remove_locked(*s);
  }
  Status snap_remove_by_id(uint64_t id) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    Snap* s = find_snap_id(*image_, id);
    if (!s) return err(-ENOENT, "snapshot id " + std::to_string(id) + " of " + spec());
    return remove_locked(*s);
  }
  Status snap_protect(const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    Snap* s = find_snap(*image_, name);
    if (!s) return err(-ENOENT, "snapshot " + spec() + "@" + name);
    if (s->is_protected) return err(-EBUSY, "snapshot " + spec() + "@" + name + " is protected");
    s->is_protected = true;
    return Status::Ok();
  }
  Status snap_unprotect(const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    Snap* s = find_snap(*image_, name);
    if (!s) return err(-ENOENT, "snapshot " + spec() + "@" + name);
    if (!s->is_protected) return err(-EINVAL, "snapshot " + spec() + "@" + name);
    if (!children_of(*c_, image_->id, s->id).empty()) {
      return err(-EBUSY, "snapshot " + spec() + "@" + name + " has clones");
    }
    s->is_protected = false;
    return Status::Ok();
  }
  Result<bool> snap_is_protected(const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    Snap* s = find_snap(*image_, name);
    if (!s) return err(-ENOENT, "snapshot " + spec() + "@" + name);
    return s->is_protected;
  }
  Status snap_rollback(const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    Snap* s = find_snap(*image_, name);
    if (!s) return err(-ENOENT, "snapshot " + spec() + "@" + name);
    image_->data = s->data;
    image_->size = s->size;
    return Status::Ok();
  }
  Status snap_set(const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    if (name.empty()) {
      snap_id_.reset();
      return Status::Ok();
    }
    Snap* s = find_snap(*image_, name);
    if (!s) return err(-ENOENT, "snapshot " + spec() + "@" + name);
    snap_id_ = s->id;
    return Status::Ok();
  }
  Status snap_set_by_id(uint64_t id) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    if (!find_snap_id(*image_, id)) return err(-ENOENT, "snapshot id of " + spec());
    snap_id_ = id;
    return Status::Ok();
  }
  Result<timespec> snap_timestamp(uint64_t id) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    Snap* s = find_snap_id(*image_, id);
    if (!s) return err(-ENOENT, "snapshot id of " + spec());
    return s->made;
  }
  Result<SnapshotNamespace> snap_namespace(uint64_t id) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    Snap* s = find_snap_id(*image_, id);
    if (!s) return err(-ENOENT, "snapshot id of " + spec());
    SnapshotNamespace ns;
    if (s->trash) {
      ns.kind = SnapshotNamespace::Kind::kTrash;
      ns.trash_original_name = s->original_name;
    }
    return ns;
  }

  Result<std::string> metadata_get(const std::string& key) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    auto& omap = header().omap;
    auto it = omap.find(kMetaPrefix + key);
    if (it == omap.end()) return err(-ENOENT, "metadata " + key + " of " + spec());
    return it->second;
  }
  Status metadata_set(const std::string& key, const std::string& value) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    Object& h = header();
    h.omap[kMetaPrefix + key] = value;
    ++h.version;
    return Status::Ok();
  }
  Status metadata_remove(const std::string& key) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    Object& h = header();
    if (h.omap.erase(kMetaPrefix + key) == 0) {
      return err(-ENOENT, "metadata " + key + " of " + spec());
    }
    ++h.version;
    return Status::Ok();
  }
  Result<std::map<std::string, std::string>> metadata_list(const std::string& start,
                                                           uint64_t max) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    std::map<std::string, std::string> out;
    for (const auto& [k, v] : header().omap) {
      if (k.compare(0, kMetaPrefix.size(), kMetaPrefix) != 0) continue;
      const std::string key = k.substr(kMetaPrefix.size());
      if (!start.empty() && key <= start) continue;
      if (out.size() >= max) break;
      out[key] = v;
    }
    return out;
  }

  Result<ParentInfo> parent() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    if (!image_->parent) return ParentInfo{};
    auto [pool, parent] = c_->image_by_id(image_->parent->image_id);
    if (!parent) return err(-ENOENT, "the parent of " + spec());
    Snap* s = find_snap_id(*parent, image_->parent->snap_id);
    return ParentInfo{true, pool, parent->name, s ? s->name : ""};
  }
  Result<std::vector<LinkedImage>> children() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    if (!snap_id_) return std::vector<LinkedImage>();
    return children_of(*c_, image_->id, *snap_id_);
  }
  Status flatten(const std::function<void(uint64_t, uint64_t)>& progress) override {
    {
      std::lock_guard<std::mutex> lock(c_->mu);
      RETURN_IF_ERROR(writable());
      if (!image_->parent) return err(-EINVAL, spec() + " is not a clone");
      image_->data = resolved_head();
      image_->parent.reset();
      release_trashed_parents();
    }
    if (progress) progress(1, 1);
    return Status::Ok();
  }

  // The exclusive lock as librbd keeps it: its owner named by address.
  Result<std::vector<std::string>> lock_owners() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    if (!(image_->features & feature::kExclusiveLock)) {
      return err(-EINVAL, "exclusive-lock feature is not enabled on " + spec());
    }
    if (!image_->lock) return std::vector<std::string>();
    return std::vector<std::string>{image_->lock->address};
  }
  // As rbd_lock_break: EBUSY when `owner` no longer holds it (someone else
  // does), ENOENT when no one does; the owner's client is blocklisted first.
  Status lock_break(const std::string& owner) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    if (!image_->lock) return err(-ENOENT, "no lock on " + spec());
    if (image_->lock->address != owner) return err(-EBUSY, "the lock of " + spec());
    c_->blocklist(image_->lock->client);
    return Status::Ok();
  }
  Status lock_acquire() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(writable());
    if (!(image_->features & feature::kExclusiveLock)) {
      return err(-EINVAL, "exclusive-lock feature is not enabled on " + spec());
    }
    return take_lock(true);
  }
  Result<std::vector<ImageLocker>> lockers() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    std::vector<ImageLocker> out;
    if (image_->lock) {
      out.push_back({"client." + std::to_string(image_->lock->client), image_->lock->address});
    }
    return out;
  }
  // Every client that has the image open read-write watches its header, and
  // so do dead ones until the OSDs drop their watch.
  Result<std::vector<std::string>> watchers() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    RETURN_IF_ERROR(check());
    std::vector<std::string> out;
    for (const auto& [h, a] : image_->writers) out.push_back(a);
    for (const auto& [h, a] : image_->stale_watches) out.push_back(a);
    return out;
  }

  void aio_read(uint64_t offset, size_t len, ceph::bufferlist* out, IoDone done) override {
    std::string bytes;
    {
      std::lock_guard<std::mutex> lock(c_->mu);
      Status s = check();
      if (!s.ok()) return done(-s.err());
      const Data data = snap_id_ ? find_snap_id(*image_, *snap_id_)->data : resolved_head();
      bytes.assign(len, '\0');
      for (uint64_t at = offset; at < offset + len;) {
        const uint64_t obj = at / kObjectSize, in = at % kObjectSize;
        const uint64_t n = std::min<uint64_t>(kObjectSize - in, offset + len - at);
        auto it = data.find(obj);
        if (it != data.end()) std::memcpy(&bytes[at - offset], it->second.data() + in, n);
        at += n;
      }
    }
    out->append(bytes);
    done(static_cast<ssize_t>(len));
  }
  void aio_write(uint64_t offset, ceph::bufferlist* data, IoDone done) override {
    const std::string bytes = data->to_str();
    {
      std::lock_guard<std::mutex> lock(c_->mu);
      Status s = writable();
      if (s.ok() && (image_->features & feature::kExclusiveLock)) s = take_lock(false);
      if (!s.ok()) return done(-s.err());
      if (image_->parent) image_->data = resolved_head();  // copy-up, whole image
      for (uint64_t at = offset; at < offset + bytes.size();) {
        const uint64_t obj = at / kObjectSize, in = at % kObjectSize;
        const uint64_t n = std::min<uint64_t>(kObjectSize - in, offset + bytes.size() - at);
        std::string& o = image_->data[obj];
        if (o.empty()) o.assign(kObjectSize, '\0');
        std::memcpy(&o[in], bytes.data() + (at - offset), n);
        at += n;
      }
    }
    done(static_cast<ssize_t>(bytes.size()));
  }
  Status flush() override { return Status::Ok(); }
  Status diff_iterate(uint64_t offset, uint64_t length,
                      const std::function<int(uint64_t, size_t, bool)>& cb) override {
    std::vector<uint64_t> objects;
    uint64_t size = 0;
    {
      std::lock_guard<std::mutex> lock(c_->mu);
      RETURN_IF_ERROR(check());
      const Data data = snap_id_ ? find_snap_id(*image_, *snap_id_)->data : resolved_head();
      size = current_size();
      for (const auto& [obj, bytes] : data) objects.push_back(obj);
    }
    for (uint64_t obj : objects) {
      const uint64_t start = obj * kObjectSize;
      if (start >= offset + length || start >= size) continue;
      const uint64_t len = std::min(kObjectSize, size - start);
      int r = cb(start, len, true);
      if (r < 0) return err(r, "diff iterate of " + spec());
    }
    return Status::Ok();
  }

 private:
  Status check() {
    PoolState* p = c_->pool(pool_);
    if (!p || !p->images.count(image_->name) || p->images[image_->name] != image_) {
      return err(-ENOENT, "image " + spec());
    }
    if (snap_id_ && !find_snap_id(*image_, *snap_id_)) return err(-ENOENT, "snapshot of " + spec());
    return Status::Ok();
  }
  Status writable() {
    RETURN_IF_ERROR(check());
    if (read_only_ || snap_id_) return err(-EROFS, spec() + " is open read-only");
    if (c_->blocklisted.count(client_)) {
      return err(-ESHUTDOWN, "client." + std::to_string(client_) + " is blocklisted; " + spec());
    }
    return Status::Ok();
  }
  // Takes the exclusive lock for this handle, as librbd does before a write
  // (or explicitly, lock_acquire). A holder whose client no longer watches
  // the image is dead: librbd blocklists it and breaks its lock. A live
  // holder hands the lock over when asked, unless it took it explicitly:
  // then EROFS, as librbd answers.
  Status take_lock(bool explicit_lock) {
    auto& held = image_->lock;
    if (held && held->handle == handle_) {
      held->explicit_lock = held->explicit_lock || explicit_lock;
      return Status::Ok();
    }
    if (held) {
      bool watching = false;
      for (const auto* watches : {&image_->writers, &image_->stale_watches}) {
        for (const auto& [h, a] : *watches) watching = watching || a == held->address;
      }
      if (!watching) {
        c_->blocklist(held->client);
      } else if (held->explicit_lock) {
        return err(-EROFS, "client." + std::to_string(held->client) + " holds the lock of " +
                               spec() + " and keeps it");
      }
    }
    held = ExclusiveLock{client_, handle_, c_->address(client_), explicit_lock};
    return Status::Ok();
  }
  uint64_t current_size() {
    if (snap_id_) return find_snap_id(*image_, *snap_id_)->size;
    return image_->size;
  }
  Object& header() { return c_->pools[pool_].objects["rbd_header." + image_->id]; }
  // The head's bytes with what it reads through its parent filled in.
  Data resolved_head() { return resolve(*image_); }
  Data resolve(const Image& image) {
    Data data = image.data;
    if (image.parent) {
      auto [pool, parent] = c_->image_by_id(image.parent->image_id);
      if (parent) {
        Snap* s = find_snap_id(*parent, image.parent->snap_id);
        if (s) {
          for (const auto& [obj, bytes] : s->data) data.emplace(obj, bytes);
        }
      }
    }
    return data;
  }
  Status remove_locked(Snap& s) {
    if (s.is_protected) return err(-EBUSY, "snapshot " + spec() + "@" + s.name + " is protected");
    if (!children_of(*c_, image_->id, s.id).empty()) {
      // librbd (clone v2) moves it to its trash until its last clone goes.
      s.original_name = s.name;
      s.trash = true;
      return Status::Ok();
    }
    const uint64_t id = s.id;
    image_->snaps.erase(std::remove_if(image_->snaps.begin(), image_->snaps.end(),
                                       [&](const Snap& x) { return x.id == id; }),
                        image_->snaps.end());
    return Status::Ok();
  }
  // A trashed snapshot goes with its last clone.
  void release_trashed_parents() {
    for (auto& [pname, p] : c_->pools) {
      for (auto& [iname, img] : p.images) {
        img->snaps.erase(std::remove_if(img->snaps.begin(), img->snaps.end(),
                                        [&](const Snap& s) {
                                          return s.trash && children_of(*c_, img->id, s.id).empty();
                                        }),
                         img->snaps.end());
      }
    }
  }

  std::shared_ptr<MemoryCluster> c_;
  std::string pool_;
  std::shared_ptr<Image> image_;
  std::optional<uint64_t> snap_id_;
  bool read_only_;
  uint64_t handle_;
  uint64_t client_;
};

class MemoryPool : public Pool {
 public:
  // `client`: the instance id of the connection it came from.
  MemoryPool(std::shared_ptr<MemoryCluster> c, std::string name, uint64_t client)
      : c_(std::move(c)), name_(std::move(name)), client_(client) {}

  const std::string& name() const override { return name_; }
  std::string client_name() override { return "client." + std::to_string(client_); }
  Result<std::unique_ptr<Pool>> sibling(const std::string& pool) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    if (!c_->pool(pool)) return err(-ENOENT, "cannot open pool " + pool);
    return std::unique_ptr<Pool>(new MemoryPool(c_, pool, client_));
  }
  Result<std::unique_ptr<Pool>> sibling_by_id(int64_t pool_id, const std::string&) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    for (auto& [name, p] : c_->pools) {
      if (p.id == pool_id) return std::unique_ptr<Pool>(new MemoryPool(c_, name, client_));
    }
    return err(-ENOENT, "cannot open pool id " + std::to_string(pool_id));
  }
  Result<std::string> mon_command(const std::string& command) override;

  Status operate(const std::string& oid, const ObjectWrite& op) override {
    run_write_hook(oid);
    std::lock_guard<std::mutex> lock(c_->mu);
    PoolState& p = state();
    auto it = p.objects.find(oid);
    const bool exists = it != p.objects.end();
    if (op.create_exclusive && exists) return err(-EEXIST, "object " + name_ + "/" + oid);
    if (op.assert_version) {
      const uint64_t have = exists ? it->second.version : 0;
      if (have < *op.assert_version) return err(-EOVERFLOW, "object " + name_ + "/" + oid);
      if (have > *op.assert_version) return err(-ERANGE, "object " + name_ + "/" + oid);
    }
    Object& o = p.objects[oid];
    for (const auto& [k, v] : op.omap_set) o.omap[k] = v;
    for (const auto& k : op.omap_remove) o.omap.erase(k);
    ++o.version;
    return Status::Ok();
  }
  Status remove(const std::string& oid) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    if (state().objects.erase(oid) == 0) return err(-ENOENT, "object " + name_ + "/" + oid);
    return Status::Ok();
  }
  Result<uint64_t> object_size(const std::string& oid) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto it = state().objects.find(oid);
    if (it == state().objects.end()) return err(-ENOENT, "object " + name_ + "/" + oid);
    return it->second.size;
  }
  Result<OmapPage> omap_get(const std::string& oid, const std::string& start_after,
                            const std::string& prefix, uint64_t max) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto it = state().objects.find(oid);
    if (it == state().objects.end()) return err(-ENOENT, "object " + name_ + "/" + oid);
    OmapPage page;
    page.version = it->second.version;
    auto from =
        start_after.empty() ? it->second.omap.begin() : it->second.omap.upper_bound(start_after);
    for (; from != it->second.omap.end(); ++from) {
      if (from->first.compare(0, prefix.size(), prefix) != 0) {
        if (from->first > prefix) break;
        continue;
      }
      if (page.values.size() >= max) {
        page.more = true;
        break;
      }
      page.values.insert(*from);
    }
    return page;
  }
  // One after the other: there is no round trip to save.
  std::vector<Result<OmapPage>> omap_get_many(const std::vector<OmapRead>& reads) override {
    std::vector<Result<OmapPage>> pages;
    for (const auto& r : reads) pages.push_back(omap_get(r.oid, r.start_after, r.prefix, r.max));
    return pages;
  }
  Result<OmapPage> omap_get_keys(const std::string& oid,
                                 const std::set<std::string>& keys) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto it = state().objects.find(oid);
    if (it == state().objects.end()) return err(-ENOENT, "object " + name_ + "/" + oid);
    OmapPage page;
    page.version = it->second.version;
    for (const auto& k : keys) {
      auto v = it->second.omap.find(k);
      if (v != it->second.omap.end()) page.values.insert(*v);
    }
    return page;
  }
  Status lock_exclusive(const std::string& oid, const std::string& name, const std::string& cookie,
                        uint32_t) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    Object& o = state().objects[oid];
    if (!o.lock_name.empty()) {
      return err(o.lock_cookie == cookie ? -EEXIST : -EBUSY, "lock on " + name_ + "/" + oid);
    }
    o.lock_name = name;
    o.lock_cookie = cookie;
    o.lock_client = client_;
    o.lock_expires = 0;
    return Status::Ok();
  }
  Status lock_lease(const std::string& oid, const std::string& name, const std::string& cookie,
                    uint32_t seconds) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    Object& o = state().objects[oid];
    const time_t t = now().tv_sec;
    const bool expired = o.lock_expires != 0 && o.lock_expires <= t;
    const bool mine = o.lock_name == name && o.lock_cookie == cookie && o.lock_client == client_;
    if (!o.lock_name.empty() && !expired && !mine)
      return err(-EBUSY, "lock on " + name_ + "/" + oid);
    o.lock_name = name;
    o.lock_cookie = cookie;
    o.lock_client = client_;
    o.lock_expires = t + seconds;
    return Status::Ok();
  }
  Result<std::vector<ObjectLocker>> object_lockers(const std::string& oid,
                                                   const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    std::vector<ObjectLocker> out;
    auto it = state().objects.find(oid);
    if (it != state().objects.end() && it->second.lock_name == name) {
      out.push_back({"client." + std::to_string(it->second.lock_client), it->second.lock_cookie,
                     "127.0.0.1:0/" + std::to_string(it->second.lock_client)});
    }
    return out;
  }
  Status break_object_lock(const std::string& oid, const std::string& name,
                           const std::string& client, const std::string& cookie) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto it = state().objects.find(oid);
    if (it == state().objects.end() || it->second.lock_name != name ||
        it->second.lock_cookie != cookie ||
        "client." + std::to_string(it->second.lock_client) != client) {
      return err(-ENOENT, "lock on " + name_ + "/" + oid);
    }
    it->second.lock_name.clear();
    it->second.lock_cookie.clear();
    it->second.lock_expires = 0;
    return Status::Ok();
  }
  Status unlock(const std::string& oid, const std::string& name,
                const std::string& cookie) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto it = state().objects.find(oid);
    if (it == state().objects.end() || it->second.lock_name != name ||
        it->second.lock_cookie != cookie) {
      return err(-ENOENT, "lock on " + name_ + "/" + oid);
    }
    it->second.lock_name.clear();
    it->second.lock_cookie.clear();
    return Status::Ok();
  }
  Result<std::unique_ptr<Watch>> watch(const std::string& oid) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto it = state().objects.find(oid);
    if (it == state().objects.end()) return err(-ENOENT, "cannot watch " + name_ + "/" + oid);
    const uint64_t handle = c_->next_id++;
    it->second.watchers[handle] = c_->address(client_);
    return std::unique_ptr<Watch>(new MemoryWatch(c_, name_, oid, handle));
  }
  Result<std::vector<std::string>> object_watchers(const std::string& oid) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto it = state().objects.find(oid);
    if (it == state().objects.end()) return err(-ENOENT, "object " + name_ + "/" + oid);
    std::vector<std::string> out;
    for (const auto& [h, a] : it->second.watchers) out.push_back(a);
    return out;
  }

  Result<std::vector<std::string>> list_images() override {
    std::lock_guard<std::mutex> lock(c_->mu);
    std::vector<std::string> out;
    for (const auto& [name, img] : state().images) out.push_back(name);
    return out;
  }
  Status create_image(const std::string& name, uint64_t size,
                      const ImageOptions& options) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    return create_locked(name, size, options, std::nullopt).status();
  }
  Status clone_image(const std::string& parent, const std::string& snap, Pool& dst,
                     const std::string& name, const ImageOptions& options) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto& dst_pool = static_cast<MemoryPool&>(dst);
    if (dst_pool.c_ != c_) return err(-EXDEV, "cannot clone across clusters");
    auto it = state().images.find(parent);
    if (it == state().images.end()) return err(-ENOENT, "image " + name_ + "/" + parent);
    Snap* s = find_snap(*it->second, snap);
    if (!s) return err(-ENOENT, "snapshot " + name_ + "/" + parent + "@" + snap);
    if (!s->is_protected) {
      return err(-EINVAL, "snapshot " + name_ + "/" + parent + "@" + snap + " is not protected");
    }
    ParentRef ref{name_, it->second->id, s->id};
    auto made = dst_pool.create_locked(name, s->size, options, ref);
    return made.status();
  }
  Status remove_image(const std::string& name) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto it = state().images.find(name);
    if (it == state().images.end()) return err(-ENOENT, "image " + name_ + "/" + name);
    Image& img = *it->second;
    if (!img.writers.empty() || !img.stale_watches.empty()) {
      return err(-EBUSY, "image " + name_ + "/" + name + " has watchers");
    }
    if (!img.snaps.empty())
      return err(-ENOTEMPTY, "image " + name_ + "/" + name + " has snapshots");
    state().objects.erase("rbd_header." + img.id);
    Object& directory = state().objects["rbd_directory"];
    directory.omap.erase("name_" + name);
    ++directory.version;
    std::shared_ptr<Image> removed = it->second;
    state().images.erase(it);
    // Its parent's trashed snapshot goes with its last clone.
    if (removed->parent) {
      auto [pool, parent] = c_->image_by_id(removed->parent->image_id);
      if (parent) {
        Snap* s = find_snap_id(*parent, removed->parent->snap_id);
        if (s && s->trash && children_of(*c_, parent->id, s->id).empty()) {
          const uint64_t id = s->id;
          parent->snaps.erase(std::remove_if(parent->snaps.begin(), parent->snaps.end(),
                                             [&](const Snap& x) { return x.id == id; }),
                              parent->snaps.end());
        }
      }
    }
    return Status::Ok();
  }
  Result<std::unique_ptr<RbdImage>> open_image(const std::string& name, const std::string& snap,
                                               bool read_only) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    auto it = state().images.find(name);
    if (it == state().images.end()) return err(-ENOENT, "cannot open image " + name_ + "/" + name);
    std::optional<uint64_t> snap_id;
    if (!snap.empty()) {
      Snap* s = find_snap(*it->second, snap);
      if (!s) return err(-ENOENT, "cannot open image " + name_ + "/" + name + "@" + snap);
      snap_id = s->id;
    }
    return std::unique_ptr<RbdImage>(new MemoryImage(c_, name_, it->second, snap_id,
                                                     read_only || snap_id, c_->next_id++, client_));
  }
  Result<std::unique_ptr<RbdImage>> open_image_by_id(const std::string& id) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    for (auto& [name, img] : state().images) {
      if (img->id == id) {
        return std::unique_ptr<RbdImage>(
            new MemoryImage(c_, name_, img, std::nullopt, false, c_->next_id++, client_));
      }
    }
    return err(-ENOENT, "cannot open image id " + id + " in " + name_);
  }

 private:
  PoolState& state() { return c_->pools[name_]; }
  // The hook set for a write to `oid`, taken (it runs once) and run without
  // the cluster's lock: it may run whole operations.
  void run_write_hook(const std::string& oid) {
    std::function<void()> hook;
    {
      std::lock_guard<std::mutex> lock(c_->mu);
      auto& h = c_->write_hook;
      if (h && h->pool == name_ && oid.compare(0, h->oid_prefix.size(), h->oid_prefix) == 0) {
        hook = std::move(h->run);
        h.reset();
      }
    }
    if (hook) hook();
  }
  Result<std::shared_ptr<Image>> create_locked(const std::string& name, uint64_t size,
                                               const ImageOptions& options,
                                               std::optional<ParentRef> parent) {
    if (state().images.count(name)) return err(-EEXIST, "image " + name_ + "/" + name);
    auto img = std::make_shared<Image>();
    img->id = "mem" + std::to_string(c_->next_id++);
    img->name = name;
    img->size = size;
    if (options.order) img->order = options.order;
    if (options.features_set) img->features = options.features;
    img->made = now();
    img->parent = std::move(parent);
    state().objects["rbd_header." + img->id];
    // librbd's directory of the pool's images (rbd_directory_holds reads it).
    Object& directory = state().objects["rbd_directory"];
    directory.omap["name_" + name] = img->id;
    ++directory.version;
    state().images[name] = img;
    return img;
  }

  std::shared_ptr<MemoryCluster> c_;
  std::string name_;
  uint64_t client_;
};

std::string mon_answer(MemoryCluster& c, const std::string& command) {
  nlohmann::json cmd = nlohmann::json::parse(command);
  const std::string prefix = cmd.value("prefix", "");
  nlohmann::json out;
  if (prefix == "osd dump") {
    out["pools"] = nlohmann::json::array();
    for (const auto& [name, p] : c.pools) {
      out["pools"].push_back({{"pool_name", name}, {"quota_max_bytes", 0}, {"flags_names", ""}});
    }
  } else if (prefix == "df") {
    out["pools"] = nlohmann::json::array();
    for (const auto& [name, p] : c.pools) {
      out["pools"].push_back(
          {{"name", name}, {"stats", {{"max_avail", 1ull << 40}, {"bytes_used", 0}}}});
    }
  } else if (prefix == "mon dump") {
    out["mons"] = {{{"addr", "127.0.0.1:6789/0"}}};
  } else if (prefix == "osd blocklist" && cmd.value("blocklistop", "") == "add") {
    // The addresses this cluster hands out: "127.0.0.1:0/<client id>".
    const std::string addr = cmd.value("addr", "");
    const auto slash = addr.rfind('/');
    if (slash == std::string::npos) return "";
    c.blocklist(std::stoull(addr.substr(slash + 1)));
    out["blocklisted"] = addr;
  } else {
    return "";
  }
  return out.dump();
}

Result<std::string> MemoryPool::mon_command(const std::string& command) {
  std::lock_guard<std::mutex> lock(c_->mu);
  std::string answer = mon_answer(*c_, command);
  if (answer.empty()) return err(-EINVAL, "monitor command " + command);
  return answer;
}

class MemoryConnection : public Connection {
 public:
  MemoryConnection(std::shared_ptr<MemoryCluster> c, uint64_t client)
      : c_(std::move(c)), client_(client) {}
  Result<std::unique_ptr<Pool>> open_pool(const std::string& pool) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    if (!c_->reachable) return err(-ETIMEDOUT, "cannot open pool " + pool);
    if (!c_->pool(pool)) return err(-ENOENT, "cannot open pool " + pool);
    return std::unique_ptr<Pool>(new MemoryPool(c_, pool, client_));
  }
  Result<std::string> mon_command(const std::string& command) override {
    std::lock_guard<std::mutex> lock(c_->mu);
    std::string answer = mon_answer(*c_, command);
    if (answer.empty()) return err(-EINVAL, "monitor command " + command);
    return answer;
  }
  Result<ClusterStat> cluster_stat() override {
    return ClusterStat{1ull << 30, 0, 1ull << 30};  // 1 TiB free, in KiB
  }
  std::string conf_get(const std::string&) override { return ""; }

 private:
  std::shared_ptr<MemoryCluster> c_;
  uint64_t client_;
};

}  // namespace

MemoryEnv::MemoryEnv() = default;
MemoryEnv::~MemoryEnv() = default;

void MemoryEnv::add_cluster(const std::string& ceph_conf, const std::vector<std::string>& pools) {
  auto c = std::make_shared<MemoryCluster>();
  int64_t id = 1;
  for (const auto& p : pools) c->pools[p].id = id++;
  std::lock_guard<std::mutex> lock(mu_);
  clusters_[ceph_conf] = c;
}

void MemoryEnv::set_reachable(const std::string& ceph_conf, bool reachable) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  c->reachable = reachable;
}

std::shared_ptr<MemoryCluster> MemoryEnv::cluster(const std::string& ceph_conf) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clusters_.find(ceph_conf);
  return it == clusters_.end() ? nullptr : it->second;
}

Result<std::unique_ptr<Connection>> MemoryEnv::connect(const config::Backend& backend,
                                                       const ConnectOptions&) {
  auto c = cluster(backend.ceph_conf);
  bool reachable = false;
  if (c) {
    std::lock_guard<std::mutex> lock(c->mu);
    reachable = c->reachable;
  }
  if (!reachable) {
    return err(-ETIMEDOUT,
               "backend " + backend.id + ": cannot connect to the cluster of " + backend.ceph_conf);
  }
  uint64_t client = 0;
  {
    std::lock_guard<std::mutex> lock(c->mu);
    client = c->next_id++;
  }
  return std::unique_ptr<Connection>(new MemoryConnection(c, client));
}

std::vector<std::string> MemoryEnv::images(const std::string& ceph_conf, const std::string& pool) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  std::vector<std::string> out;
  for (const auto& [name, img] : c->pools[pool].images) out.push_back(name);
  return out;
}

std::vector<std::string> MemoryEnv::snapshots(const std::string& ceph_conf, const std::string& pool,
                                              const std::string& image) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  std::vector<std::string> out;
  auto it = c->pools[pool].images.find(image);
  if (it == c->pools[pool].images.end()) return out;
  for (const auto& s : it->second->snaps)
    out.push_back(s.trash ? "(trash)" + s.original_name : s.name);
  return out;
}

std::map<std::string, std::string> MemoryEnv::metadata(const std::string& ceph_conf,
                                                       const std::string& pool,
                                                       const std::string& image) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  std::map<std::string, std::string> out;
  auto it = c->pools[pool].images.find(image);
  if (it == c->pools[pool].images.end()) return out;
  for (const auto& [k, v] : c->pools[pool].objects["rbd_header." + it->second->id].omap) {
    if (k.compare(0, kMetaPrefix.size(), kMetaPrefix) == 0) out[k.substr(kMetaPrefix.size())] = v;
  }
  return out;
}

std::vector<std::string> MemoryEnv::objects(const std::string& ceph_conf, const std::string& pool) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  std::vector<std::string> out;
  for (const auto& [oid, o] : c->pools[pool].objects) {
    if (oid.compare(0, 11, "rbd_header.") != 0 && oid != "rbd_directory") out.push_back(oid);
  }
  return out;
}

std::map<std::string, std::string> MemoryEnv::omap(const std::string& ceph_conf,
                                                   const std::string& pool,
                                                   const std::string& oid) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  auto it = c->pools[pool].objects.find(oid);
  if (it == c->pools[pool].objects.end()) return {};
  return it->second.omap;
}

size_t MemoryEnv::open_writers(const std::string& ceph_conf, const std::string& pool,
                               const std::string& image) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  auto it = c->pools[pool].images.find(image);
  return it == c->pools[pool].images.end() ? 0 : it->second->writers.size();
}

std::string MemoryEnv::leave_dead_lock(const std::string& ceph_conf, const std::string& pool,
                                       const std::string& image, bool watching) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  auto it = c->pools[pool].images.find(image);
  if (it == c->pools[pool].images.end()) return "";
  const uint64_t client = c->next_id++;
  it->second->lock = ExclusiveLock{client, 0, c->address(client), true};
  if (watching) it->second->stale_watches[c->next_id++] = c->address(client);
  return "client." + std::to_string(client);
}

void MemoryEnv::before_next_write(const std::string& ceph_conf, const std::string& pool,
                                  const std::string& oid_prefix, std::function<void()> hook) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  c->write_hook = MemoryCluster::WriteHook{pool, oid_prefix, std::move(hook)};
}

std::string MemoryEnv::lock_holder(const std::string& ceph_conf, const std::string& pool,
                                   const std::string& image) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  auto it = c->pools[pool].images.find(image);
  if (it == c->pools[pool].images.end() || !it->second->lock) return "";
  return "client." + std::to_string(it->second->lock->client);
}

bool MemoryEnv::blocklisted(const std::string& ceph_conf, const std::string& client) {
  auto c = cluster(ceph_conf);
  std::lock_guard<std::mutex> lock(c->mu);
  for (uint64_t id : c->blocklisted) {
    if ("client." + std::to_string(id) == client) return true;
  }
  return false;
}

}  // namespace rbdvol::plugin::testing
