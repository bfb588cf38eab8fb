#include "plugin/records/journal.h"

#include <cerrno>
#include <chrono>
#include <random>
#include <thread>

#include "plugin/ceph/omap_read.h"

namespace rbdvol::plugin {
namespace {

struct JournalEntry {
  std::optional<std::string> value;
  uint64_t version = 0;
  bool exists = false;
};

// The journal object is made by the first journal_update and never removed.
// Until then there is nothing to read: whether it exists is asked first (an
// omap read of a missing object made librados 16.2 throw in its messenger
// thread).
Result<bool> journal_exists(Pool& io, const std::string& object) {
  auto size = io.object_size(object);
  if (size.ok()) return true;
  if (size.status().err() == ENOENT) return false;
  return size.status().Prefixed("cannot stat " + object);
}

Result<JournalEntry> read_key(Pool& io, const std::string& object, const std::string& key) {
  ASSIGN_OR_RETURN(bool exists, journal_exists(io, object));
  if (!exists) return JournalEntry{};
  auto page = io.omap_get_keys(object, {key});
  JournalEntry out;
  if (!page.ok()) {
    if (page.status().err() == ENOENT) return out;
    return page.status().Prefixed("cannot read " + object);
  }
  out.exists = true;
  out.version = page->version;
  const auto it = page->values.find(key);
  if (it != page->values.end()) out.value = it->second;
  return out;
}

}  // namespace

Result<std::optional<std::string>> journal_get(Pool& io, const std::string& key,
                                               const std::string& object) {
  ASSIGN_OR_RETURN(JournalEntry v, read_key(io, object, key));
  return v.value;
}

Result<std::map<std::string, std::string>> journal_list(Pool& io, const std::string& object) {
  ASSIGN_OR_RETURN(bool exists, journal_exists(io, object));
  if (!exists) return std::map<std::string, std::string>();
  auto all = omap_read_all(io, object, "");
  if (!all.ok() && all.status().err() == ENOENT) return std::map<std::string, std::string>();
  if (!all.ok()) return all.status().Prefixed("cannot list " + object);
  return all;
}

Result<std::optional<std::string>> journal_update(
    Pool& io, const std::string& key,
    const std::function<Status(std::optional<std::string>& value)>& change,
    const std::string& object) {
  std::mt19937 rng{std::random_device{}()};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    ASSIGN_OR_RETURN(JournalEntry current, read_key(io, object, key));
    std::optional<std::string> value = current.value;
    RETURN_IF_ERROR(change(value));
    if (value == current.value) return current.value;
    ObjectWrite op;
    if (current.exists) {
      op.assert_version = current.version;
    } else {
      op.create_exclusive = true;
    }
    if (value) {
      op.omap_set[key] = *value;
    } else {
      op.omap_remove.insert(key);
    }
    Status s = io.operate(object, op);
    if (s.ok()) return current.value;
    if (s.err() != ERANGE && s.err() != EOVERFLOW && s.err() != EEXIST && s.err() != ECANCELED) {
      return s.Prefixed("cannot write " + object + " key " + key);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Error(EAGAIN, object + " kept changing; gave up after 10 s");
    }
    // Another host changed the journal between our read and our write.
    std::this_thread::sleep_for(std::chrono::milliseconds(2 + rng() % 20));
  }
}

}  // namespace rbdvol::plugin
