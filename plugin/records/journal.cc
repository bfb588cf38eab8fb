#include "plugin/records/journal.h"

#include <chrono>
#include <random>
#include <thread>

#include "plugin/ceph/ceph_handles.h"

namespace rbdvol::plugin {
namespace {

struct ReadOpDeleter {
  void operator()(rados_read_op_t op) const { rados_release_read_op(op); }
};
struct WriteOpDeleter {
  void operator()(rados_write_op_t op) const { rados_release_write_op(op); }
};
struct OmapIterDeleter {
  void operator()(rados_omap_iter_t it) const {
    if (it) rados_omap_get_end(it);
  }
};
using ReadOp = std::unique_ptr<std::remove_pointer_t<rados_read_op_t>, ReadOpDeleter>;
using WriteOp = std::unique_ptr<std::remove_pointer_t<rados_write_op_t>, WriteOpDeleter>;
using OmapIter = std::unique_ptr<std::remove_pointer_t<rados_omap_iter_t>, OmapIterDeleter>;

struct Versioned {
  std::optional<std::string> value;
  uint64_t version = 0;
  bool exists = false;
};

// The journal object is made by the first journal_update and never removed.
// Until then there is nothing to read: an omap read of an object that does
// not exist makes librados (16.2) decode an empty reply and throw in its
// messenger thread, so whether it exists is asked first.
Result<bool> journal_exists(rados_ioctx_t io) {
  uint64_t size = 0;
  time_t mtime = 0;
  int r = rados_stat(io, kJournalObject.c_str(), &size, &mtime);
  if (r == -ENOENT) return false;
  if (r < 0) return Status::Error(r, "cannot stat " + kJournalObject + ": " + ceph_strerror(r));
  return true;
}

Result<Versioned> read_key(rados_ioctx_t io, const std::string& key) {
  ASSIGN_OR_RETURN(bool exists, journal_exists(io));
  if (!exists) return Versioned{};
  ReadOp op(rados_create_read_op());
  const char* keys[] = {key.c_str()};
  const size_t lens[] = {key.size()};
  rados_omap_iter_t raw = nullptr;
  int prval = 0;
  rados_read_op_omap_get_vals_by_keys2(op.get(), keys, 1, lens, &raw, &prval);
  int r = rados_read_op_operate(op.get(), io, kJournalObject.c_str(), 0);
  OmapIter iter(raw);
  Versioned out;
  if (r == -ENOENT) return out;
  if (r < 0 || prval < 0) {
    int e = r < 0 ? r : prval;
    return Status::Error(e, "cannot read " + kJournalObject + ": " + ceph_strerror(e));
  }
  out.exists = true;
  out.version = rados_get_last_version(io);
  char *k = nullptr, *v = nullptr;
  size_t klen = 0, vlen = 0;
  while (rados_omap_get_next2(iter.get(), &k, &v, &klen, &vlen) == 0 && k) {
    if (std::string(k, klen) == key) out.value = std::string(v, vlen);
  }
  return out;
}

}  // namespace

Result<std::optional<std::string>> journal_get(rados_ioctx_t io, const std::string& key) {
  ASSIGN_OR_RETURN(Versioned v, read_key(io, key));
  return v.value;
}

Result<std::map<std::string, std::string>> journal_list(rados_ioctx_t io) {
  std::map<std::string, std::string> out;
  ASSIGN_OR_RETURN(bool exists, journal_exists(io));
  if (!exists) return out;
  std::string after;
  for (;;) {
    ReadOp op(rados_create_read_op());
    rados_omap_iter_t raw = nullptr;
    unsigned char more = 0;
    int prval = 0;
    rados_read_op_omap_get_vals2(op.get(), after.c_str(), "", 1000, &raw, &more, &prval);
    int r = rados_read_op_operate(op.get(), io, kJournalObject.c_str(), 0);
    OmapIter iter(raw);
    if (r == -ENOENT) return out;
    if (r < 0 || prval < 0) {
      int e = r < 0 ? r : prval;
      return Status::Error(e, "cannot list " + kJournalObject + ": " + ceph_strerror(e));
    }
    char *k = nullptr, *v = nullptr;
    size_t klen = 0, vlen = 0;
    size_t n = 0;
    while (rados_omap_get_next2(iter.get(), &k, &v, &klen, &vlen) == 0 && k) {
      after.assign(k, klen);
      out[after] = std::string(v, vlen);
      ++n;
    }
    if (!more || n == 0) return out;
  }
}

Result<std::optional<std::string>> journal_update(
    rados_ioctx_t io, const std::string& key,
    const std::function<Status(std::optional<std::string>& value)>& change) {
  std::mt19937 rng{std::random_device{}()};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    ASSIGN_OR_RETURN(Versioned current, read_key(io, key));
    std::optional<std::string> value = current.value;
    RETURN_IF_ERROR(change(value));
    if (value == current.value) return current.value;
    WriteOp op(rados_create_write_op());
    if (current.exists) {
      rados_write_op_assert_version(op.get(), current.version);
    } else {
      rados_write_op_create(op.get(), LIBRADOS_CREATE_EXCLUSIVE, nullptr);
    }
    const char* keys[] = {key.c_str()};
    const size_t key_lens[] = {key.size()};
    if (value) {
      const char* vals[] = {value->c_str()};
      const size_t val_lens[] = {value->size()};
      rados_write_op_omap_set2(op.get(), keys, vals, key_lens, val_lens, 1);
    } else {
      rados_write_op_omap_rm_keys2(op.get(), keys, key_lens, 1);
    }
    int r = rados_write_op_operate2(op.get(), io, kJournalObject.c_str(), nullptr, 0);
    if (r == 0) return current.value;
    if (r != -ERANGE && r != -EOVERFLOW && r != -EEXIST) {
      return Status::Error(
          r, "cannot write " + kJournalObject + " key " + key + ": " + ceph_strerror(r));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Error(EAGAIN, kJournalObject + " kept changing; gave up after 10 s");
    }
    // Another host changed the journal between our read and our write.
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 20));
  }
}

}  // namespace rbdvol::plugin
