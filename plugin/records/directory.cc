#include "plugin/records/directory.h"

#include <algorithm>
#include <cerrno>
#include <map>
#include <memory>
#include <set>
#include <string_view>

#include "plugin/ceph/omap_read.h"
#include "plugin/ceph/rbd_image.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

using Json = nlohmann::json;

namespace {

const std::string kEntryPrefix = "i.";
const std::string kNamePrefix = "n.";
const char kNameSeparator = '\x01';  // names hold no control character (check_name)
const std::string kShardsKey = "shards";
const std::string kBuiltKey = "built";
const std::string kBuildLock = "rbdvol_directory_build";
// Keys written by one omap write while the directory is built.
constexpr size_t kBuildBatch = 512;

std::string entry_key(const std::string& uuid) { return kEntryPrefix + uuid; }
std::string name_key(const std::string& name, const std::string& uuid) {
  return kNamePrefix + name + kNameSeparator + uuid;
}

std::string shard_oid(DirectoryKind kind, int shard) {
  return directory_header_oid(kind) + "." + std::to_string(shard);
}

Status omap_set(Pool& io, const std::string& oid,
                const std::vector<std::pair<std::string, std::string>>& kvs) {
  if (kvs.empty()) return Status::Ok();
  ObjectWrite op;
  for (const auto& [k, v] : kvs) op.omap_set[k] = v;
  return io.operate(oid, op).Prefixed("the directory");
}

Status omap_remove(Pool& io, const std::string& oid, const std::vector<std::string>& keys) {
  if (keys.empty()) return Status::Ok();
  ObjectWrite op;
  op.omap_remove.insert(keys.begin(), keys.end());
  Status s = io.operate(oid, op);
  if (!s.ok() && s.err() != ENOENT) return s.Prefixed("the directory");
  return Status::Ok();
}

// The values of `keys` in `oid`'s omap (those it has). A missing object
// holds none.
Result<std::map<std::string, std::string>> omap_get(Pool& io, const std::string& oid,
                                                    const std::set<std::string>& keys) {
  auto page = io.omap_get_keys(oid, keys);
  if (!page.ok() && page.status().err() == ENOENT) return std::map<std::string, std::string>();
  if (!page.ok()) return page.status().Prefixed("the directory");
  return std::move(page->values);
}

Result<Json> parse_entry(Pool& io, const std::string& oid, const std::string& key,
                         const std::string& value) {
  Json entry = Json::parse(value, nullptr, false);
  if (entry.is_discarded() || !entry.is_object() || !entry.contains("id") ||
      !entry.at("id").is_string()) {
    return Status::Error(EIO, "the directory entry " + key + " of " + image_spec(io, oid) +
                                  " is not a directory entry (" + std::to_string(value.size()) +
                                  " bytes)");
  }
  return entry;
}

}  // namespace

std::string directory_header_oid(DirectoryKind kind) {
  return kind == DirectoryKind::kVolumes ? "rbdvol_volume_directory" : "rbdvol_image_directory";
}

int directory_shard_of(const std::string& key) {
  uint32_t h = 2166136261u;  // FNV-1a: stable across builds and machines
  for (unsigned char c : key) {
    h ^= c;
    h *= 16777619u;
  }
  return static_cast<int>(h % kDirectoryShards);
}

std::string directory_shard_oid(DirectoryKind kind, const std::string& key) {
  return shard_oid(kind, directory_shard_of(key));
}

Result<Json> directory_get(Pool& io, DirectoryKind kind, const std::string& uuid) {
  const std::string oid = directory_shard_oid(kind, uuid);
  const std::string key = entry_key(uuid);
  ASSIGN_OR_RETURN(auto values, omap_get(io, oid, {key}));
  auto it = values.find(key);
  if (it == values.end()) {
    return Status::NotFound(uuid + " has no entry in " + image_spec(io, oid));
  }
  return parse_entry(io, oid, key, it->second);
}

Result<bool> rbd_directory_holds(Pool& io, const std::string& rbd_name) {
  // librbd's own directory of format 2 images: omap key "name_<image>".
  const std::string key = "name_" + rbd_name;
  auto page = io.omap_get_keys("rbd_directory", {key});
  if (!page.ok()) {
    if (page.status().err() == ENOENT) return false;
    return page.status();
  }
  return page->values.count(key) > 0;
}

Status directory_put(Pool& io, DirectoryKind kind, const Json& entry) {
  const std::string uuid = entry.at("id").get<std::string>();
  const std::string name = entry.value("name", "");
  std::string old_name;
  auto old = directory_get(io, kind, uuid);
  if (old.ok()) {
    old_name = old->value("name", "");
  } else if (old.status().err() != ENOENT && old.status().err() != EIO) {
    return old.status();  // EIO: a damaged entry, replaced below
  }
  // The name key first: a key without its entry is a hint a lookup confirms;
  // an entry without its key would not be found by name.
  if (!name.empty()) {
    RETURN_IF_ERROR(omap_set(io, directory_shard_oid(kind, name), {{name_key(name, uuid), uuid}}));
  }
  RETURN_IF_ERROR(omap_set(io, directory_shard_oid(kind, uuid), {{entry_key(uuid), entry.dump()}}));
  if (!old_name.empty() && old_name != name) {
    RETURN_IF_ERROR(
        omap_remove(io, directory_shard_oid(kind, old_name), {name_key(old_name, uuid)}));
  }
  return Status::Ok();
}

Status directory_remove(Pool& io, DirectoryKind kind, const std::string& uuid) {
  auto old = directory_get(io, kind, uuid);
  if (!old.ok() && old.status().err() != ENOENT && old.status().err() != EIO) {
    return old.status();
  }
  RETURN_IF_ERROR(omap_remove(io, directory_shard_oid(kind, uuid), {entry_key(uuid)}));
  if (old.ok() && !old->value("name", "").empty()) {
    const std::string name = old->value("name", "");
    RETURN_IF_ERROR(omap_remove(io, directory_shard_oid(kind, name), {name_key(name, uuid)}));
  }
  return Status::Ok();
}

Result<DirectoryRead> directory_read(Pool& io, DirectoryKind kind, const std::string& uuid) {
  const std::string oid = directory_shard_oid(kind, uuid);
  const std::string key = entry_key(uuid);
  DirectoryRead read;
  auto page = io.omap_get_keys(oid, {key});
  if (!page.ok()) {
    if (page.status().err() == ENOENT) return read;
    return page.status().Prefixed("the directory");
  }
  read.version = page->version;
  auto it = page->values.find(key);
  if (it != page->values.end()) {
    read.present = true;
    auto entry = parse_entry(io, oid, key, it->second);
    if (entry.ok()) read.entry = std::move(entry).value();
  }
  return read;
}

namespace {

// A write to an entry's shard that applies only while the shard is as
// `read` saw it.
ObjectWrite guarded_write(const DirectoryRead& read) {
  ObjectWrite op;
  if (read.version == 0) {
    op.create_exclusive = true;
  } else {
    op.assert_version = read.version;
  }
  return op;
}

// ECANCELED for a guard that failed: the version moved on (ERANGE, or
// EOVERFLOW), or the shard was made meanwhile (EEXIST).
Status guarded_result(Status s, Pool& io, const std::string& oid, const std::string& uuid) {
  if (s.err() == ERANGE || s.err() == EOVERFLOW || s.err() == EEXIST) {
    return Status::Error(ECANCELED, "the directory entry of " + uuid + " in " +
                                        image_spec(io, oid) +
                                        ": another process wrote to its shard since it was read");
  }
  return s.Prefixed("the directory");
}

}  // namespace

Status directory_put_if(Pool& io, DirectoryKind kind, const Json& entry,
                        const DirectoryRead& read) {
  const std::string uuid = entry.at("id").get<std::string>();
  const std::string name = entry.value("name", "");
  const std::string old_name = read.entry ? read.entry->value("name", "") : "";
  const std::string oid = directory_shard_oid(kind, uuid);
  ObjectWrite op = guarded_write(read);
  op.omap_set[entry_key(uuid)] = entry.dump();
  if (!name.empty()) {
    if (directory_shard_oid(kind, name) == oid) {
      op.omap_set[name_key(name, uuid)] = uuid;
    } else {
      RETURN_IF_ERROR(
          omap_set(io, directory_shard_oid(kind, name), {{name_key(name, uuid), uuid}}));
    }
  }
  const bool renamed = !old_name.empty() && old_name != name;
  if (renamed && directory_shard_oid(kind, old_name) == oid) {
    op.omap_remove.insert(name_key(old_name, uuid));
  }
  RETURN_IF_ERROR(guarded_result(io.operate(oid, op), io, oid, uuid));
  if (renamed && directory_shard_oid(kind, old_name) != oid) {
    RETURN_IF_ERROR(
        omap_remove(io, directory_shard_oid(kind, old_name), {name_key(old_name, uuid)}));
  }
  return Status::Ok();
}

Status directory_remove_if(Pool& io, DirectoryKind kind, const std::string& uuid,
                           const DirectoryRead& read) {
  if (!read.present) return Status::Ok();
  const std::string oid = directory_shard_oid(kind, uuid);
  const std::string name = read.entry ? read.entry->value("name", "") : "";
  ObjectWrite op = guarded_write(read);
  op.omap_remove.insert(entry_key(uuid));
  if (!name.empty() && directory_shard_oid(kind, name) == oid) {
    op.omap_remove.insert(name_key(name, uuid));
  }
  RETURN_IF_ERROR(guarded_result(io.operate(oid, op), io, oid, uuid));
  if (!name.empty() && directory_shard_oid(kind, name) != oid) {
    RETURN_IF_ERROR(omap_remove(io, directory_shard_oid(kind, name), {name_key(name, uuid)}));
  }
  return Status::Ok();
}

namespace {

// Every key of every shard that starts with `prefix`, with its value and
// shard object, read from all shards at once.
struct ShardKey {
  std::string oid, key, value;
};
Result<std::vector<ShardKey>> read_all_keys(Pool& io, DirectoryKind kind,
                                            const std::string& prefix) {
  std::vector<std::string> oids;
  for (int i = 0; i < kDirectoryShards; ++i) oids.push_back(shard_oid(kind, i));
  ASSIGN_OR_RETURN(auto shards, omap_read_all_of(io, oids, prefix));
  std::vector<ShardKey> out;
  for (size_t i = 0; i < shards.size(); ++i) {
    for (auto& [key, value] : shards[i]) out.push_back({oids[i], key, std::move(value)});
  }
  return out;
}

}  // namespace

Result<std::vector<Json>> directory_read_all(Pool& io, DirectoryKind kind) {
  ASSIGN_OR_RETURN(auto keys, read_all_keys(io, kind, kEntryPrefix));
  std::vector<Json> entries;
  entries.reserve(keys.size());
  for (const auto& k : keys) {
    ASSIGN_OR_RETURN(Json entry, parse_entry(io, k.oid, k.key, k.value));
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<std::vector<DirectoryNameKey>> directory_name_keys(Pool& io, DirectoryKind kind) {
  ASSIGN_OR_RETURN(auto keys, read_all_keys(io, kind, kNamePrefix));
  std::vector<DirectoryNameKey> out;
  for (const auto& k : keys) {
    const size_t sep = k.key.rfind(kNameSeparator);
    if (sep == std::string::npos || sep < kNamePrefix.size()) continue;
    out.push_back(
        {k.key.substr(kNamePrefix.size(), sep - kNamePrefix.size()), k.key.substr(sep + 1)});
  }
  return out;
}

Status directory_remove_name_key(Pool& io, DirectoryKind kind, const DirectoryNameKey& k) {
  return omap_remove(io, directory_shard_oid(kind, k.name), {name_key(k.name, k.uuid)});
}

Result<std::vector<std::string>> directory_find_name(Pool& io, DirectoryKind kind,
                                                     const std::string& name) {
  const std::string prefix = kNamePrefix + name + kNameSeparator;
  auto keys = omap_read_all(io, directory_shard_oid(kind, name), prefix);
  if (!keys.ok() && keys.status().err() == ENOENT) return std::vector<std::string>();
  if (!keys.ok()) return keys.status().Prefixed("the directory");
  std::vector<std::string> uuids;
  for (const auto& [key, value] : *keys) uuids.push_back(key.substr(prefix.size()));
  return uuids;
}

Result<bool> directory_is_built(Pool& io, DirectoryKind kind) {
  const std::string oid = directory_header_oid(kind);
  ASSIGN_OR_RETURN(auto header, omap_get(io, oid, {kShardsKey, kBuiltKey}));
  auto shards = header.find(kShardsKey);
  if (shards != header.end() && shards->second != std::to_string(kDirectoryShards)) {
    return Status::Error(EIO, image_spec(io, oid) + " says the directory has " + shards->second +
                                  " shards; this rbdvol reads " + std::to_string(kDirectoryShards));
  }
  return header.count(kBuiltKey) > 0;
}

Status directory_build(Pool& io, DirectoryKind kind, const DirectoryScan& scan) {
  const std::string oid = directory_header_oid(kind);
  const std::string cookie = new_uuid();
  // A builder that dies frees the lock after 300 s.
  Status locked = io.lock_exclusive(oid, kBuildLock, cookie, 300);
  if (locked.err() == EBUSY || locked.err() == EEXIST) {
    return Status::Error(EBUSY, "another process is filling " + image_spec(io, oid));
  }
  RETURN_IF_ERROR(locked);
  struct Unlock {
    Pool& io;
    const std::string& oid;
    const std::string& cookie;
    ~Unlock() { (void)io.unlock(oid, kBuildLock, cookie); }
  } unlock{io, oid, cookie};

  ASSIGN_OR_RETURN(bool built, directory_is_built(io, kind));
  if (built) return Status::Ok();  // another process finished it meanwhile
  ASSIGN_OR_RETURN(auto entries, scan());
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> by_shard;
  for (const auto& entry : entries) {
    const std::string uuid = entry.at("id").get<std::string>();
    const std::string name = entry.value("name", "");
    by_shard[directory_shard_oid(kind, uuid)].emplace_back(entry_key(uuid), entry.dump());
    if (!name.empty()) {
      by_shard[directory_shard_oid(kind, name)].emplace_back(name_key(name, uuid), uuid);
    }
  }
  for (auto& [shard, kvs] : by_shard) {
    for (size_t i = 0; i < kvs.size(); i += kBuildBatch) {
      std::vector<std::pair<std::string, std::string>> batch(
          kvs.begin() + i, kvs.begin() + std::min(kvs.size(), i + kBuildBatch));
      RETURN_IF_ERROR(omap_set(io, shard, batch));
    }
  }
  return omap_set(io, oid,
                  {{kShardsKey, std::to_string(kDirectoryShards)}, {kBuiltKey, utc_now_iso8601()}});
}

Result<bool> directory_ensure_built(Pool& io, DirectoryKind kind, const DirectoryScan& scan) {
  ASSIGN_OR_RETURN(bool built, directory_is_built(io, kind));
  if (built) return true;
  Status s = directory_build(io, kind, scan);
  if (s.err() == EBUSY) return false;
  RETURN_IF_ERROR(s);
  return true;
}

Result<std::vector<Json>> directory_entries(Pool& io, DirectoryKind kind,
                                            const DirectoryScan& scan) {
  ASSIGN_OR_RETURN(bool built, directory_ensure_built(io, kind, scan));
  if (!built) return scan();
  return directory_read_all(io, kind);
}

Result<ListingQuery> parse_listing_query(const Json& request,
                                         const std::vector<ListingQuery::Key>& default_sort,
                                         bool volumes) {
  ListingQuery q;
  auto text = [&](const char* field, std::string* out) -> Status {
    if (!request.contains(field)) return Status::Ok();
    if (!request.at(field).is_string()) {
      return Status::Invalid(std::string("\"") + field + "\" must be a string");
    }
    *out = request.at(field).get<std::string>();
    return Status::Ok();
  };
  RETURN_IF_ERROR(text("name", &q.name));
  RETURN_IF_ERROR(text("backend", &q.backend));
  RETURN_IF_ERROR(text("marker", &q.marker));
  if (volumes) {
    RETURN_IF_ERROR(text("status", &q.status));
    RETURN_IF_ERROR(text("disk_type", &q.disk_type));
    if (!q.status.empty() && q.status != "available" && q.status != "in-use") {
      return Status::Invalid("\"status\" must be \"available\" or \"in-use\", not \"" + q.status +
                             "\"");
    }
  }
  if (request.contains("limit")) {
    const Json& limit = request.at("limit");
    // A whole number however the host's JSON library typed it (signed when
    // built from an int), at least 1.
    const bool whole =
        limit.is_number_unsigned() || (limit.is_number_integer() && limit.get<int64_t>() >= 0);
    if (!whole || limit.get<uint64_t>() == 0) {
      return Status::Invalid("\"limit\" must be a whole number of at least 1");
    }
    q.limit = limit.get<uint64_t>();
  }
  std::string sort;
  RETURN_IF_ERROR(text("sort", &sort));
  if (sort.empty()) {
    q.sort = default_sort;
    return q;
  }
  static const char* const kFields[] = {"name", "created_at", "size", "id", "backend"};
  size_t start = 0;
  while (start <= sort.size()) {
    size_t comma = sort.find(',', start);
    if (comma == std::string::npos) comma = sort.size();
    std::string item = sort.substr(start, comma - start);
    ListingQuery::Key key;
    const size_t colon = item.find(':');
    key.field = item.substr(0, colon);
    if (colon != std::string::npos) {
      const std::string dir = item.substr(colon + 1);
      if (dir != "asc" && dir != "desc") {
        return Status::Invalid("\"sort\": direction '" + dir + "' must be asc or desc");
      }
      key.descending = dir == "desc";
    }
    if (std::find(std::begin(kFields), std::end(kFields), key.field) == std::end(kFields)) {
      return Status::Invalid("\"sort\": cannot sort by '" + key.field +
                             "' (name, created_at, size, id, backend)");
    }
    q.sort.push_back(key);
    start = comma + 1;
  }
  return q;
}

namespace {

// -1, 0, 1: numbers as numbers, everything else as its text.
// One field of an item as a sort key: a number when the item holds an
// unsigned integer there, else its text ("" when it is absent or not text).
// Points into the item, which must outlive it.
struct SortKey {
  bool number = false;
  uint64_t value = 0;
  std::string_view text;
};

SortKey sort_key(const Json& item, const std::string& field) {
  SortKey k;
  const auto it = item.find(field);
  if (it == item.end()) return k;
  if (it->is_number_unsigned()) {
    k.number = true;
    k.value = it->get<uint64_t>();
  } else if (it->is_string()) {
    k.text = it->get_ref<const std::string&>();
  }
  return k;
}

// Numbers compare as numbers when both are numbers, else as text.
int compare_keys(const SortKey& a, const SortKey& b) {
  if (a.number && b.number) return a.value < b.value ? -1 : a.value > b.value ? 1 : 0;
  const int c = a.text.compare(b.text);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

}  // namespace

Status apply_listing_page(const ListingQuery& query, std::vector<Json>* items,
                          std::string* next_marker) {
  // Each item's keys are taken out once (the query's, then id, then
  // backend), and the items sorted through them: looking the fields up in
  // every comparison cost more than reading the directory at 10,000 items.
  std::vector<std::string> fields;
  for (const auto& key : query.sort) fields.push_back(key.field);
  // Ties end in id order, then backend (an image has one item per backend),
  // so that pages are stable.
  fields.push_back("id");
  fields.push_back("backend");
  const size_t width = fields.size();
  std::vector<SortKey> keys(items->size() * width);
  for (size_t i = 0; i < items->size(); ++i) {
    for (size_t f = 0; f < width; ++f) keys[i * width + f] = sort_key((*items)[i], fields[f]);
  }
  std::vector<size_t> order(items->size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    for (size_t f = 0; f < width; ++f) {
      const int c = compare_keys(keys[a * width + f], keys[b * width + f]);
      if (c == 0) continue;
      const bool descending = f < query.sort.size() && query.sort[f].descending;
      return descending ? c > 0 : c < 0;
    }
    return false;
  });
  std::vector<Json> sorted;
  sorted.reserve(items->size());
  for (size_t i : order) sorted.push_back(std::move((*items)[i]));
  *items = std::move(sorted);

  size_t begin = 0;
  if (!query.marker.empty()) {
    auto it = std::find_if(items->begin(), items->end(),
                           [&](const Json& j) { return j.value("id", "") == query.marker; });
    if (it == items->end()) {
      return Status::Invalid("marker '" + query.marker +
                             "' is not in the listing (not an id it holds, or filtered out)");
    }
    begin = static_cast<size_t>(it - items->begin()) + 1;
  }
  size_t end = items->size();
  if (query.limit > 0 && query.limit < end - begin) end = begin + query.limit;
  next_marker->clear();
  if (end < items->size() && end > begin) *next_marker = (*items)[end - 1].value("id", "");
  items->erase(items->begin() + end, items->end());
  items->erase(items->begin(), items->begin() + begin);
  return Status::Ok();
}

}  // namespace rbdvol::plugin
