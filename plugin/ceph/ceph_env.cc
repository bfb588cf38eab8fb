// The Env over librados/librbd's C++ API: every handle is one of their own
// classes, so nothing is closed by hand.
#include <rados/librados.hpp>
#include <rbd/librbd.hpp>

#include <cerrno>
#include <cstring>
#include <list>
#include <utility>

#include "config/keyring.h"
#include "plugin/ceph/env.h"

namespace rbdvol::plugin {

std::string ceph_strerror(int r) {
  const int e = r < 0 ? -r : r;
  if (e == ENOSPC) return "No space left: the cluster or pool is full";
  if (e == EDQUOT) return "Disk quota exceeded: the pool is full (its quota is reached)";
  return std::strerror(e);
}

namespace {

Status ceph_error(int r, const std::string& what) {
  return Status::Error(r, what + ": " + ceph_strerror(r));
}

std::map<std::string, std::string> to_strings(const std::map<std::string, ceph::bufferlist>& in) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : in) out[k] = v.to_str();
  return out;
}

class ProgressAdapter : public librbd::ProgressContext {
 public:
  explicit ProgressAdapter(const std::function<void(uint64_t, uint64_t)>& fn) : fn_(fn) {}
  int update_progress(uint64_t offset, uint64_t total) override {
    if (fn_) fn_(offset, total);
    return 0;
  }

 private:
  const std::function<void(uint64_t, uint64_t)>& fn_;
};

class NoProgress : public librbd::ProgressContext {
 public:
  int update_progress(uint64_t, uint64_t) override { return 0; }
};

class CephImage : public RbdImage {
 public:
  CephImage(std::string spec) : spec_(std::move(spec)) {}
  librbd::Image& image() { return image_; }

  std::string spec() const override { return spec_; }

  Result<std::string> id() override {
    std::string id;
    int r = image_.get_id(&id);
    if (r < 0) return ceph_error(r, "cannot read the id of " + spec_);
    return id;
  }
  Result<uint64_t> size() override {
    uint64_t size = 0;
    int r = image_.size(&size);
    if (r < 0) return ceph_error(r, "cannot read the size of " + spec_);
    return size;
  }
  Result<ImageStat> stat() override {
    librbd::image_info_t info{};
    int r = image_.stat(info, sizeof(info));
    if (r < 0) return ceph_error(r, "cannot stat " + spec_);
    ImageStat st;
    st.size = info.size;
    st.object_size = info.obj_size;
    st.order = info.order;
    st.num_objs = info.num_objs;
    st.block_name_prefix = info.block_name_prefix;
    return st;
  }
  Result<uint64_t> features() override {
    uint64_t features = 0;
    int r = image_.features(&features);
    if (r < 0) return ceph_error(r, "cannot read the features of " + spec_);
    return features;
  }
  Status update_features(uint64_t features, bool enabled) override {
    int r = image_.update_features(features, enabled);
    if (r < 0) {
      return ceph_error(
          r, std::string("cannot turn ") + (enabled ? "on" : "off") + " features of " + spec_);
    }
    return Status::Ok();
  }
  Status rebuild_object_map() override {
    NoProgress none;
    int r = image_.rebuild_object_map(none);
    if (r < 0) return ceph_error(r, "cannot rebuild the object map of " + spec_);
    return Status::Ok();
  }
  Status resize(uint64_t size, bool allow_shrink) override {
    NoProgress none;
    int r = image_.resize2(size, allow_shrink, none);
    if (r < 0) return ceph_error(r, "cannot resize " + spec_ + " to " + std::to_string(size));
    return Status::Ok();
  }
  Result<timespec> create_timestamp() override {
    timespec ts{};
    int r = image_.get_create_timestamp(&ts);
    if (r < 0) return ceph_error(r, "cannot read the creation time of " + spec_);
    return ts;
  }

  Result<std::vector<SnapshotInfo>> list_snapshots() override {
    std::vector<librbd::snap_info_t> snaps;
    int r = image_.snap_list(snaps);
    if (r < 0) return ceph_error(r, "cannot list the snapshots of " + spec_);
    std::vector<SnapshotInfo> out;
    for (const auto& s : snaps) out.push_back({s.id, s.name, s.size});
    return out;
  }
  Result<bool> snap_exists(const std::string& name) override {
    bool exists = false;
    int r = image_.snap_exists2(name.c_str(), &exists);
    if (r < 0) return ceph_error(r, "cannot read snapshot " + spec_ + "@" + name);
    return exists;
  }
  Status snap_create(const std::string& name) override {
    return check(image_.snap_create(name.c_str()), "cannot create snapshot", name);
  }
  Status snap_remove(const std::string& name) override {
    return check(image_.snap_remove(name.c_str()), "cannot remove snapshot", name);
  }
  Status snap_remove_by_id(uint64_t id) override {
    int r = image_.snap_remove_by_id(id);
    if (r < 0)
      return ceph_error(r, "cannot remove snapshot id " + std::to_string(id) + " of " + spec_);
    return Status::Ok();
  }
  Status snap_protect(const std::string& name) override {
    return check(image_.snap_protect(name.c_str()), "cannot protect snapshot", name);
  }
  Status snap_unprotect(const std::string& name) override {
    return check(image_.snap_unprotect(name.c_str()), "cannot unprotect snapshot", name);
  }
  Result<bool> snap_is_protected(const std::string& name) override {
    bool is_protected = false;
    int r = image_.snap_is_protected(name.c_str(), &is_protected);
    if (r < 0) return ceph_error(r, "cannot read snapshot " + spec_ + "@" + name);
    return is_protected;
  }
  Status snap_rollback(const std::string& name) override {
    return check(image_.snap_rollback(name.c_str()), "cannot roll back to snapshot", name);
  }
  Status snap_set(const std::string& name) override {
    return check(image_.snap_set(name.empty() ? nullptr : name.c_str()), "cannot open snapshot",
                 name);
  }
  Status snap_set_by_id(uint64_t id) override {
    int r = image_.snap_set_by_id(id);
    if (r < 0)
      return ceph_error(r, "cannot open snapshot id " + std::to_string(id) + " of " + spec_);
    return Status::Ok();
  }
  Result<timespec> snap_timestamp(uint64_t id) override {
    timespec ts{};
    int r = image_.snap_get_timestamp(id, &ts);
    if (r < 0) return ceph_error(r, "cannot read the time of a snapshot of " + spec_);
    return ts;
  }
  Result<SnapshotNamespace> snap_namespace(uint64_t id) override {
    librbd::snap_namespace_type_t type;
    int r = image_.snap_get_namespace_type(id, &type);
    if (r < 0) return ceph_error(r, "cannot read the namespace of a snapshot of " + spec_);
    SnapshotNamespace ns;
    switch (type) {
      case RBD_SNAP_NAMESPACE_TYPE_USER:
        ns.kind = SnapshotNamespace::Kind::kUser;
        break;
      case RBD_SNAP_NAMESPACE_TYPE_GROUP:
        ns.kind = SnapshotNamespace::Kind::kGroup;
        break;
      case RBD_SNAP_NAMESPACE_TYPE_TRASH: {
        ns.kind = SnapshotNamespace::Kind::kTrash;
        std::string original;
        if (image_.snap_get_trash_namespace(id, &original) == 0) ns.trash_original_name = original;
        break;
      }
      default:
        ns.kind = SnapshotNamespace::Kind::kOther;
    }
    return ns;
  }

  Result<std::string> metadata_get(const std::string& key) override {
    std::string value;
    int r = image_.metadata_get(key, &value);
    if (r < 0) return ceph_error(r, "cannot read metadata " + key + " of " + spec_);
    return value;
  }
  Status metadata_set(const std::string& key, const std::string& value) override {
    int r = image_.metadata_set(key, value);
    if (r < 0) return ceph_error(r, "cannot set metadata " + key + " of " + spec_);
    return Status::Ok();
  }
  Status metadata_remove(const std::string& key) override {
    int r = image_.metadata_remove(key);
    if (r < 0) return ceph_error(r, "cannot remove metadata " + key + " of " + spec_);
    return Status::Ok();
  }
  Result<std::map<std::string, std::string>> metadata_list(const std::string& start,
                                                           uint64_t max) override {
    std::map<std::string, ceph::bufferlist> pairs;
    int r = image_.metadata_list(start, max, &pairs);
    if (r < 0) return ceph_error(r, "cannot list the metadata of " + spec_);
    return to_strings(pairs);
  }

  Result<ParentInfo> parent() override {
    librbd::linked_image_spec_t parent;
    librbd::snap_spec_t snap;
    int r = image_.get_parent(&parent, &snap);
    if (r == -ENOENT) return ParentInfo{};
    if (r < 0) return ceph_error(r, "cannot read the parent of " + spec_);
    return ParentInfo{true, parent.pool_name, parent.image_name, snap.name};
  }
  Result<std::vector<LinkedImage>> children() override {
    std::vector<librbd::linked_image_spec_t> specs;
    int r = image_.list_children3(&specs);
    if (r < 0) return ceph_error(r, "cannot list the clones of " + spec_);
    std::vector<LinkedImage> out;
    for (const auto& s : specs) {
      out.push_back({s.pool_id, s.pool_name, s.pool_namespace, s.image_id, s.image_name, s.trash});
    }
    return out;
  }
  Status flatten(const std::function<void(uint64_t, uint64_t)>& progress) override {
    ProgressAdapter adapter(progress);
    int r = image_.flatten_with_progress(adapter);
    if (r < 0) return ceph_error(r, "cannot flatten " + spec_);
    return Status::Ok();
  }

  Result<std::vector<std::string>> lock_owners() override {
    rbd_lock_mode_t mode;
    std::list<std::string> owners;
    int r = image_.lock_get_owners(&mode, &owners);
    if (r == -ENOENT) return std::vector<std::string>();
    if (r < 0) return ceph_error(r, "cannot read the lock owners of " + spec_);
    return std::vector<std::string>(owners.begin(), owners.end());
  }
  Status lock_break(const std::string& owner) override {
    int r = image_.lock_break(RBD_LOCK_MODE_EXCLUSIVE, owner);
    if (r < 0) return ceph_error(r, "cannot break the lock " + owner + " on " + spec_);
    return Status::Ok();
  }
  Status lock_acquire() override {
    int r = image_.lock_acquire(RBD_LOCK_MODE_EXCLUSIVE);
    if (r < 0) return ceph_error(r, "cannot take the exclusive lock of " + spec_);
    return Status::Ok();
  }
  Result<std::vector<ImageLocker>> lockers() override {
    std::list<librbd::locker_t> lockers;
    bool exclusive = false;
    std::string tag;
    int r = image_.list_lockers(&lockers, &exclusive, &tag);
    if (r < 0) return ceph_error(r, "cannot read the lockers of " + spec_);
    std::vector<ImageLocker> out;
    for (const auto& l : lockers) out.push_back({l.client, l.address});
    return out;
  }
  Result<std::vector<std::string>> watchers() override {
    std::list<librbd::image_watcher_t> watchers;
    int r = image_.list_watchers(watchers);
    if (r < 0) return ceph_error(r, "cannot read the watchers of " + spec_);
    std::vector<std::string> out;
    for (const auto& w : watchers) out.push_back(w.addr);
    return out;
  }

  void aio_read(uint64_t offset, size_t len, ceph::bufferlist* out, IoDone done) override {
    start(std::move(done), [&](librbd::RBD::AioCompletion* c) {
      return image_.aio_read2(offset, len, *out, c, LIBRADOS_OP_FLAG_FADVISE_SEQUENTIAL);
    });
  }
  void aio_write(uint64_t offset, ceph::bufferlist* data, IoDone done) override {
    start(std::move(done), [&](librbd::RBD::AioCompletion* c) {
      return image_.aio_write2(offset, data->length(), *data, c, 0);
    });
  }
  Status flush() override {
    int r = image_.flush();
    if (r < 0) return ceph_error(r, "flush of " + spec_ + " failed");
    return Status::Ok();
  }
  Status diff_iterate(uint64_t offset, uint64_t length,
                      const std::function<int(uint64_t, size_t, bool)>& cb) override {
    auto trampoline = [](uint64_t off, size_t len, int exists, void* arg) -> int {
      return (*static_cast<const std::function<int(uint64_t, size_t, bool)>*>(arg))(off, len,
                                                                                    exists != 0);
    };
    int r = image_.diff_iterate2(nullptr, offset, length, true, true, trampoline,
                                 const_cast<std::function<int(uint64_t, size_t, bool)>*>(&cb));
    if (r < 0) return ceph_error(r, "cannot list the allocated extents of " + spec_);
    return Status::Ok();
  }

 private:
  Status check(int r, const char* what, const std::string& snap) {
    if (r < 0) return ceph_error(r, std::string(what) + " " + spec_ + "@" + snap);
    return Status::Ok();
  }

  // librbd calls this on one of its own threads: hand the result over and
  // return at once.
  static void on_complete(librbd::completion_t c, void* arg) {
    std::unique_ptr<IoDone> done(static_cast<IoDone*>(arg));
    auto* completion = static_cast<librbd::RBD::AioCompletion*>(c);
    const ssize_t r = completion->get_return_value();
    completion->release();
    (*done)(r);
  }
  // Submits `submit(completion)`; when that fails the completion is
  // released and `done` is called with the error at once.
  static void start(IoDone done, const std::function<int(librbd::RBD::AioCompletion*)>& submit) {
    auto* arg = new IoDone(std::move(done));
    auto* c = new librbd::RBD::AioCompletion(arg, on_complete);
    const int r = submit(c);
    if (r < 0) {
      c->release();
      std::unique_ptr<IoDone> owned(arg);
      (*owned)(r);
    }
  }

  std::string spec_;
  librbd::Image image_;
};

class CephWatch : public Pool::Watch {
 public:
  CephWatch(librados::IoCtx& io, std::string oid) : io_(io), oid_(std::move(oid)) {}
  ~CephWatch() override {
    if (registered_) io_.unwatch2(handle_);
  }
  int start() {
    int r = io_.watch2(oid_, &handle_, &ctx_);
    registered_ = r == 0;
    return r;
  }

 private:
  // A watch that ignores what it is told: it only shows the holder is alive.
  struct IgnoreNotify : public librados::WatchCtx2 {
    void handle_notify(uint64_t, uint64_t, uint64_t, ceph::bufferlist&) override {}
    void handle_error(uint64_t, int) override {}
  };
  librados::IoCtx io_;  // a copy: shares the pool's context
  std::string oid_;
  IgnoreNotify ctx_;
  uint64_t handle_ = 0;
  bool registered_ = false;
};

class CephPool : public Pool {
 public:
  CephPool(librados::Rados& rados, librados::IoCtx io)
      : rados_(rados), io_(std::move(io)), name_(io_.get_pool_name()) {
    // A write to a full pool fails at once with ENOSPC or EDQUOT instead of
    // waiting for space without bound; deletes are still allowed there.
    io_.set_pool_full_try();
  }

  const std::string& name() const override { return name_; }
  std::string client_name() override {
    return "client." + std::to_string(rados_.get_instance_id());
  }

  Result<std::unique_ptr<Pool>> sibling(const std::string& pool) override {
    librados::IoCtx io;
    int r = rados_.ioctx_create(pool.c_str(), io);
    if (r < 0) return ceph_error(r, "cannot open pool " + pool);
    return std::unique_ptr<Pool>(new CephPool(rados_, std::move(io)));
  }
  Result<std::unique_ptr<Pool>> sibling_by_id(int64_t pool_id,
                                              const std::string& pool_namespace) override {
    librados::IoCtx io;
    int r = rados_.ioctx_create2(pool_id, io);
    if (r < 0) return ceph_error(r, "cannot open pool id " + std::to_string(pool_id));
    io.set_namespace(pool_namespace);
    return std::unique_ptr<Pool>(new CephPool(rados_, std::move(io)));
  }
  Result<std::string> mon_command(const std::string& command) override;

  Status operate(const std::string& oid, const ObjectWrite& op) override {
    librados::ObjectWriteOperation w;
    if (op.create_exclusive) w.create(true);
    if (op.assert_version) w.assert_version(*op.assert_version);
    if (!op.omap_set.empty()) {
      std::map<std::string, ceph::bufferlist> values;
      for (const auto& [k, v] : op.omap_set) values[k].append(v);
      w.omap_set(values);
    }
    if (!op.omap_remove.empty()) w.omap_rm_keys(op.omap_remove);
    int r = io_.operate(oid, &w);
    if (r < 0) return ceph_error(r, "cannot write object " + name_ + "/" + oid);
    return Status::Ok();
  }
  Status remove(const std::string& oid) override {
    int r = io_.remove(oid);
    if (r < 0) return ceph_error(r, "cannot remove object " + name_ + "/" + oid);
    return Status::Ok();
  }
  Result<uint64_t> object_size(const std::string& oid) override {
    uint64_t size = 0;
    time_t mtime = 0;
    int r = io_.stat(oid, &size, &mtime);
    if (r < 0) return ceph_error(r, "cannot stat object " + name_ + "/" + oid);
    return size;
  }
  Result<OmapPage> omap_get(const std::string& oid, const std::string& start_after,
                            const std::string& prefix, uint64_t max) override {
    librados::ObjectReadOperation op;
    std::map<std::string, ceph::bufferlist> values;
    bool more = false;
    int prval = 0;
    op.omap_get_vals2(start_after, prefix, max, &values, &more, &prval);
    int r = io_.operate(oid, &op, nullptr);
    if (r == 0) r = prval;
    if (r < 0) return ceph_error(r, "cannot read object " + name_ + "/" + oid);
    OmapPage page;
    page.values = to_strings(values);
    page.more = more;
    page.version = io_.get_last_version();
    return page;
  }
  std::vector<Result<OmapPage>> omap_get_many(const std::vector<OmapRead>& reads) override {
    struct InFlight {
      librados::ObjectReadOperation op;
      std::map<std::string, ceph::bufferlist> values;
      bool more = false;
      int prval = 0;
      std::unique_ptr<librados::AioCompletion, void (*)(librados::AioCompletion*)> completion{
          nullptr, [](librados::AioCompletion* c) { c->release(); }};
      int r = 0;  // of aio_operate
    };
    std::vector<std::unique_ptr<InFlight>> flights;
    for (const auto& read : reads) {
      auto f = std::make_unique<InFlight>();
      f->op.omap_get_vals2(read.start_after, read.prefix, read.max, &f->values, &f->more,
                           &f->prval);
      f->completion.reset(librados::Rados::aio_create_completion());
      f->r = io_.aio_operate(read.oid, f->completion.get(), &f->op, nullptr);
      flights.push_back(std::move(f));
    }
    std::vector<Result<OmapPage>> pages;
    for (size_t i = 0; i < flights.size(); ++i) {
      InFlight& f = *flights[i];
      int r = f.r;
      if (r == 0) {
        f.completion->wait_for_complete();
        r = f.completion->get_return_value();
      }
      if (r == 0) r = f.prval;
      if (r < 0) {
        pages.push_back(ceph_error(r, "cannot read object " + name_ + "/" + reads[i].oid));
        continue;
      }
      OmapPage page;
      page.values = to_strings(f.values);
      page.more = f.more;
      page.version = f.completion->get_version64();
      pages.push_back(std::move(page));
    }
    return pages;
  }
  Result<OmapPage> omap_get_keys(const std::string& oid,
                                 const std::set<std::string>& keys) override {
    librados::ObjectReadOperation op;
    std::map<std::string, ceph::bufferlist> values;
    int prval = 0;
    op.omap_get_vals_by_keys(keys, &values, &prval);
    int r = io_.operate(oid, &op, nullptr);
    if (r == 0) r = prval;
    if (r < 0) return ceph_error(r, "cannot read object " + name_ + "/" + oid);
    OmapPage page;
    page.values = to_strings(values);
    page.version = io_.get_last_version();
    return page;
  }
  Status lock_exclusive(const std::string& oid, const std::string& name, const std::string& cookie,
                        uint32_t seconds) override {
    timeval duration{static_cast<time_t>(seconds), 0};
    int r = io_.lock_exclusive(oid, name, cookie, "", seconds ? &duration : nullptr, 0);
    if (r < 0) return ceph_error(r, "cannot lock object " + name_ + "/" + oid);
    return Status::Ok();
  }
  Status unlock(const std::string& oid, const std::string& name,
                const std::string& cookie) override {
    int r = io_.unlock(oid, name, cookie);
    if (r < 0) return ceph_error(r, "cannot unlock object " + name_ + "/" + oid);
    return Status::Ok();
  }
  Status lock_lease(const std::string& oid, const std::string& name, const std::string& cookie,
                    uint32_t seconds) override {
    timeval duration{static_cast<time_t>(seconds), 0};
    int r = io_.lock_exclusive(oid, name, cookie, "", &duration, LIBRADOS_LOCK_FLAG_MAY_RENEW);
    if (r < 0) return ceph_error(r, "cannot lock object " + name_ + "/" + oid);
    return Status::Ok();
  }
  Result<std::vector<ObjectLocker>> object_lockers(const std::string& oid,
                                                   const std::string& name) override {
    int exclusive = 0;
    std::string tag;
    std::list<librados::locker_t> lockers;
    int r = io_.list_lockers(oid, name, &exclusive, &tag, &lockers);
    if (r == -ENOENT) return std::vector<ObjectLocker>{};
    if (r < 0) return ceph_error(r, "cannot list the lockers of " + name_ + "/" + oid);
    std::vector<ObjectLocker> out;
    for (const auto& l : lockers) out.push_back({l.client, l.cookie, l.address});
    return out;
  }
  Status break_object_lock(const std::string& oid, const std::string& name,
                           const std::string& client, const std::string& cookie) override {
    int r = io_.break_lock(oid, name, client, cookie);
    if (r < 0) {
      return ceph_error(r, "cannot break the lock of " + client + " on " + name_ + "/" + oid);
    }
    return Status::Ok();
  }
  Result<std::unique_ptr<Watch>> watch(const std::string& oid) override {
    auto w = std::make_unique<CephWatch>(io_, oid);
    int r = w->start();
    if (r < 0) return ceph_error(r, "cannot watch object " + name_ + "/" + oid);
    return std::unique_ptr<Watch>(std::move(w));
  }
  Result<std::vector<std::string>> object_watchers(const std::string& oid) override {
    std::list<obj_watch_t> watchers;
    int r = io_.list_watchers(oid, &watchers);
    if (r < 0) return ceph_error(r, "cannot list the watchers of " + name_ + "/" + oid);
    std::vector<std::string> out;
    for (const auto& w : watchers) out.emplace_back(w.addr);
    return out;
  }

  Result<std::vector<std::string>> list_images() override {
    std::vector<librbd::image_spec_t> specs;
    librbd::RBD rbd;
    int r = rbd.list2(io_, &specs);
    if (r < 0) return ceph_error(r, "cannot list images in " + name_);
    std::vector<std::string> names;
    for (const auto& s : specs) names.push_back(s.name);
    return names;
  }
  Status create_image(const std::string& name, uint64_t size,
                      const ImageOptions& options) override {
    librbd::ImageOptions opts;
    apply(options, opts);
    librbd::RBD rbd;
    int r = rbd.create4(io_, name.c_str(), size, opts);
    if (r < 0) return ceph_error(r, "cannot create image " + name_ + "/" + name);
    return Status::Ok();
  }
  Status clone_image(const std::string& parent, const std::string& snap, Pool& dst,
                     const std::string& name, const ImageOptions& options) override {
    librbd::ImageOptions opts;
    apply(options, opts);
    librbd::RBD rbd;
    auto& dst_io = static_cast<CephPool&>(dst).io_;
    int r = rbd.clone3(io_, parent.c_str(), snap.c_str(), dst_io, name.c_str(), opts);
    if (r < 0) {
      return ceph_error(r, "cannot clone " + name_ + "/" + parent + "@" + snap + " as " +
                               dst.name() + "/" + name);
    }
    return Status::Ok();
  }
  Status remove_image(const std::string& name) override {
    librbd::RBD rbd;
    int r = rbd.remove(io_, name.c_str());
    if (r < 0) return ceph_error(r, "cannot remove image " + name_ + "/" + name);
    return Status::Ok();
  }
  Result<std::unique_ptr<RbdImage>> open_image(const std::string& name, const std::string& snap,
                                               bool read_only) override {
    const std::string spec = name_ + "/" + name + (snap.empty() ? "" : "@" + snap);
    auto image = std::make_unique<CephImage>(spec);
    librbd::RBD rbd;
    // An image wanted at a snapshot is opened read-only at its head, then
    // set to the snapshot. librbd 16.2 (Debian 12) given the snapshot by
    // open_read_only itself aborts the whole process now and then (an
    // uncaught std::system_error on one of librados' threads): 4 threads,
    // each opening an image at its snapshot and at a missing one in turn,
    // took a test program down within 0.2 s; the same opens made as open
    // then snap_set never did (tests/integration/snapshot_test.cc).
    int r = read_only || !snap.empty()
                ? rbd.open_read_only(io_, image->image(), name.c_str(), nullptr)
                : rbd.open(io_, image->image(), name.c_str(), nullptr);
    if (r == 0 && !snap.empty()) r = image->image().snap_set(snap.c_str());
    if (r < 0) return ceph_error(r, "cannot open image " + spec);
    return std::unique_ptr<RbdImage>(std::move(image));
  }
  Result<std::unique_ptr<RbdImage>> open_image_by_id(const std::string& id) override {
    auto image = std::make_unique<CephImage>(name_ + "/<id " + id + ">");
    librbd::RBD rbd;
    int r = rbd.open_by_id(io_, image->image(), id.c_str(), nullptr);
    if (r < 0) return ceph_error(r, "cannot open image id " + id + " in " + name_);
    return std::unique_ptr<RbdImage>(std::move(image));
  }

 private:
  static void apply(const ImageOptions& options, librbd::ImageOptions& opts) {
    if (options.order) opts.set(RBD_IMAGE_OPTION_ORDER, static_cast<uint64_t>(options.order));
    if (options.features_set) opts.set(RBD_IMAGE_OPTION_FEATURES, options.features);
  }

  librados::Rados& rados_;
  librados::IoCtx io_;
  std::string name_;
};

Result<std::string> run_mon_command(librados::Rados& rados, const std::string& command) {
  ceph::bufferlist in, out;
  std::string status;
  int r = rados.mon_command(command, in, &out, &status);
  if (r < 0) {
    return Status::Error(r, "monitor command " + command + " failed: " + ceph_strerror(r) +
                                (status.empty() ? "" : " (" + status + ")"));
  }
  return out.to_str();
}

Result<std::string> CephPool::mon_command(const std::string& command) {
  return run_mon_command(rados_, command);
}

class CephConnection : public Connection {
 public:
  librados::Rados& rados() { return rados_; }

  Result<std::unique_ptr<Pool>> open_pool(const std::string& pool) override {
    librados::IoCtx io;
    int r = rados_.ioctx_create(pool.c_str(), io);
    if (r < 0) return ceph_error(r, "cannot open pool " + pool);
    return std::unique_ptr<Pool>(new CephPool(rados_, std::move(io)));
  }
  Result<std::string> mon_command(const std::string& command) override {
    return run_mon_command(rados_, command);
  }
  Result<ClusterStat> cluster_stat() override {
    librados::cluster_stat_t st{};
    int r = rados_.cluster_stat(st);
    if (r < 0) return ceph_error(r, "cannot read cluster stats");
    return ClusterStat{st.kb, st.kb_used, st.kb_avail};
  }
  std::string conf_get(const std::string& option) override {
    std::string value;
    if (rados_.conf_get(option.c_str(), value) < 0) return "";
    return value;
  }

 private:
  librados::Rados rados_;
};

class CephEnv : public Env {
 public:
  Result<std::unique_ptr<Connection>> connect(const config::Backend& backend,
                                              const ConnectOptions& options) override {
    const std::string describe = "backend " + backend.id;
    auto connection = std::make_unique<CephConnection>();
    librados::Rados& rados = connection->rados();
    const std::string user = "client." + backend.rbd_user;
    int r = rados.init2(user.c_str(), "ceph", 0);
    if (r < 0) return ceph_error(r, describe + ": cannot create a rados handle");
    r = rados.conf_read_file(backend.ceph_conf.c_str());
    if (r < 0) return ceph_error(r, describe + ": cannot read ceph_conf " + backend.ceph_conf);
    const std::string timeout = std::to_string(options.connect_timeout_seconds);
    std::pair<const char*, std::string> settings[] = {
        {"client_mount_timeout", timeout},
        {"rados_mon_op_timeout", timeout},
        // An OSD that stops answering after the connect fails the operation
        // with ETIMEDOUT instead of leaving it waiting without bound.
        {"rados_osd_op_timeout", std::to_string(options.osd_op_timeout_seconds)},
        {"log_to_stderr", "false"},
        {"err_to_stderr", "false"},
        {"log_file", ""},
        // This connection moves image data in bulk (the copy engine), never
        // guest I/O: librbd's cache would hold a second copy of every chunk
        // read or written, and its copy of each write buffer a third. The
        // engine keeps its buffers until librbd completes, so zero-copy
        // writes are safe. See "The copy engine" in docs/driver-abi.md.
        {"rbd_cache", "false"},
        {"rbd_disable_zero_copy_writes", "false"},
    };
    for (const auto& [key, value] : settings) {
      r = rados.conf_set(key, value.c_str());
      if (r < 0) return ceph_error(r, describe + ": cannot set " + key);
    }
    if (!backend.keyring.empty()) {
      // librados would take a missing keyring, or a directory, for a cluster
      // that does not answer ("cannot connect ... within 10 s: No such file").
      Status usable = config::check_keyring_file(backend.keyring);
      if (!usable.ok()) return usable.Prefixed(describe);
      r = rados.conf_set("keyring", backend.keyring.c_str());
      if (r < 0) return ceph_error(r, describe + ": cannot use keyring " + backend.keyring);
    }
    r = rados.connect();
    if (r < 0) {
      return ceph_error(r, describe + ": cannot connect to the cluster of " + backend.ceph_conf +
                               " within " + timeout + " s");
    }
    return std::unique_ptr<Connection>(std::move(connection));
  }
};

}  // namespace

// An object, not a leaked `new`: a host that dlcloses the plugin unmaps the
// pointer to it, and LeakSanitizer then reports it as lost in every process.
// CephEnv holds nothing, so its destruction at exit or dlclose is empty.
Env& ceph_env() {
  static CephEnv env;
  return env;
}

}  // namespace rbdvol::plugin

static_assert(rbdvol::plugin::feature::kLayering == RBD_FEATURE_LAYERING);
static_assert(rbdvol::plugin::feature::kStripingV2 == RBD_FEATURE_STRIPINGV2);
static_assert(rbdvol::plugin::feature::kExclusiveLock == RBD_FEATURE_EXCLUSIVE_LOCK);
static_assert(rbdvol::plugin::feature::kObjectMap == RBD_FEATURE_OBJECT_MAP);
static_assert(rbdvol::plugin::feature::kFastDiff == RBD_FEATURE_FAST_DIFF);
static_assert(rbdvol::plugin::feature::kDeepFlatten == RBD_FEATURE_DEEP_FLATTEN);
static_assert(rbdvol::plugin::feature::kJournaling == RBD_FEATURE_JOURNALING);
static_assert(rbdvol::plugin::feature::kDataPool == RBD_FEATURE_DATA_POOL);
static_assert(rbdvol::plugin::feature::kOperations == RBD_FEATURE_OPERATIONS);
static_assert(rbdvol::plugin::feature::kMigrating == RBD_FEATURE_MIGRATING);
static_assert(rbdvol::plugin::feature::kNonPrimary == RBD_FEATURE_NON_PRIMARY);
