// The directory of a backend's volumes or images: what a listing shows of
// each, kept in RADOS omap objects beside them, so that a listing reads a few
// objects instead of opening every RBD image.
//
// Each pool holds one directory per kind (volumes in the volume pool, image
// copies in the image pool), in the manner of ceph-csi's journal and of
// rbdvol's snapshot directory:
//   rbdvol_<kind>_directory        header; omap "shards" (kDirectoryShards)
//                                  and "built" (time the directory was first
//                                  filled from the pool; absent until then)
//   rbdvol_<kind>_directory.<n>    shard n of kDirectoryShards; omap keys
//     "i.<uuid>"                   the entry: a JSON object (directory_entry
//                                  of volume_record.h / image_directory_entry)
//     "n.<name>\x01<uuid>"         a name index key, in the shard of the name,
//                                  so that a name is looked up in one object
// A uuid's entry lives in shard fnv1a(uuid) % kDirectoryShards, a name's
// index key in fnv1a(name) % kDirectoryShards. The shard count is fixed, so
// a shard holds about 1/32 of the pool's volumes: Ceph's large-omap warning
// (200,000 keys per object) is met at some 3 million volumes per pool.
//
// The RBD image and its metadata are the source of truth; the directory is
// kept after them: an operation writes its entries once what it changed is
// done (ops/directory_sync.h). A listing shows only the entries whose RBD
// image the pool holds (one read of RBD's own rbd_directory), so it never
// shows a volume that is gone. A process that dies in between leaves a
// volume missing from the directory, an entry out of date, or one naming
// nothing, which `backend.check` reports and repairs
// (ops/check/check_directory.cc). Name index keys are hints: a lookup by name
// confirms each uuid against the image.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "plugin/ceph/env.h"
#include "status/status.h"

namespace rbdvol::plugin {

enum class DirectoryKind { kVolumes, kImages };

inline constexpr int kDirectoryShards = 32;

// "rbdvol_volume_directory" or "rbdvol_image_directory".
std::string directory_header_oid(DirectoryKind kind);
// The shard object of `key` (a uuid or a name).
std::string directory_shard_oid(DirectoryKind kind, const std::string& key);
int directory_shard_of(const std::string& key);

// Whether the pool's RBD directory (rbd_directory, which names librbd's
// format 2 images) holds image `rbd_name`: one omap read, no image opened.
// What a lookup of one entry checks, as listings check every entry.
Result<bool> rbd_directory_holds(Pool& io, const std::string& rbd_name);

// Writes `entry` (a JSON object with at least "id" and "name") as uuid's
// entry, with its name index key; drops the name key of the entry it
// replaces when the name changed.
Status directory_put(Pool& io, DirectoryKind kind, const nlohmann::json& entry);

// Removes uuid's entry and its name key; an entry that is not there counts
// as removed.
Status directory_remove(Pool& io, DirectoryKind kind, const std::string& uuid);

// uuid's entry as a refresh reads it before it reads the image: with the
// RADOS version of the entry's shard object, which every write to the shard
// changes, for a guarded write (directory_put_if, directory_remove_if).
struct DirectoryRead {
  std::optional<nlohmann::json> entry;  // none, or a damaged one (a put replaces it)
  bool present = false;                 // the entry's key is there (damaged or not)
  uint64_t version = 0;                 // 0: the shard object does not exist yet
};
Result<DirectoryRead> directory_read(Pool& io, DirectoryKind kind, const std::string& uuid);

// directory_put and directory_remove, applied only while the entry's shard
// object is still as `read` saw it (asserting its version, or creating it
// exclusively when it did not exist): ECANCELED, writing no entry, when
// another process wrote to the shard since (the caller reads again and
// retries). What two processes refreshing the same entry at once need, each
// from what it read of the image: the write of the one that read the image
// first fails instead of overwriting the other's newer entry. The name index
// key goes in the same write when it lives in the same shard, else before it
// (a key is a hint a lookup confirms).
Status directory_put_if(Pool& io, DirectoryKind kind, const nlohmann::json& entry,
                        const DirectoryRead& read);
Status directory_remove_if(Pool& io, DirectoryKind kind, const std::string& uuid,
                           const DirectoryRead& read);

// uuid's entry; ENOENT when it has none.
Result<nlohmann::json> directory_get(Pool& io, DirectoryKind kind, const std::string& uuid);

// Every entry, read from all shards at once (asynchronous reads, paged by
// librados' omap limits). Unordered. An entry that is not valid JSON is an
// EIO naming the object and key.
Result<std::vector<nlohmann::json>> directory_read_all(Pool& io, DirectoryKind kind);

// Every name index key: for backend.check, which drops those whose entry is
// gone or has another name.
struct DirectoryNameKey {
  std::string name, uuid;
};
Result<std::vector<DirectoryNameKey>> directory_name_keys(Pool& io, DirectoryKind kind);
Status directory_remove_name_key(Pool& io, DirectoryKind kind, const DirectoryNameKey& key);

// The uuids whose name index key says they are called `name` (hints: confirm
// each with directory_get or the image).
Result<std::vector<std::string>> directory_find_name(Pool& io, DirectoryKind kind,
                                                     const std::string& name);

// Whether the directory has been filled from the pool ("built" in its header).
Result<bool> directory_is_built(Pool& io, DirectoryKind kind);

// Fills the directory from what the pool holds, once: under an advisory lock
// on the header (another process building it: EBUSY, so that the caller
// lists the pool the old way this time), `scan` gives every entry of the
// pool; they are written, then "built" is set. `scan` reads the images (the
// cost the directory saves every later listing).
using DirectoryScan = std::function<Result<std::vector<nlohmann::json>>()>;
Status directory_build(Pool& io, DirectoryKind kind, const DirectoryScan& scan);

// Makes sure the directory is built (directory_build when it is not yet):
// true when it is, false when another process is building it now (the
// caller then reads the pool the slow way, with `scan`, this time).
Result<bool> directory_ensure_built(Pool& io, DirectoryKind kind, const DirectoryScan& scan);

// Every entry of the directory, built first when it is not yet; while
// another process builds it, what `scan` reads.
Result<std::vector<nlohmann::json>> directory_entries(Pool& io, DirectoryKind kind,
                                                      const DirectoryScan& scan);

// The listing request's fields that the directory serves: filters, sorting
// and a page. Parsed from the request of volume.list / image.list.
struct ListingQuery {
  std::string name;       // exact name; "" = any
  std::string status;     // volumes: "available" / "in-use"; "" = any
  std::string disk_type;  // volumes: "" = any
  std::string backend;    // "" = every backend
  // Sort keys, most significant first, each ascending unless `descending`.
  struct Key {
    std::string field;  // "name", "created_at", "size", "id", "backend"
    bool descending = false;
  };
  std::vector<Key> sort;
  uint64_t limit = 0;  // 0 = no limit
  std::string marker;  // the id of the last item of the previous page
};

// Parses "limit", "marker", "sort" ("name:asc,created_at:desc"), "name",
// "status", "disk_type", "backend" of `request`. `default_sort` is used when
// the request has no "sort". EINVAL names the bad field.
Result<ListingQuery> parse_listing_query(const nlohmann::json& request,
                                         const std::vector<ListingQuery::Key>& default_sort,
                                         bool volumes);

// Applies the query's sorting and page to `items` (already filtered): sorts
// them, starts after the marker and keeps `limit`. Sets `*next_marker` to
// the last id when more items follow, else "". An unknown marker is EINVAL.
Status apply_listing_page(const ListingQuery& query, std::vector<nlohmann::json>* items,
                          std::string* next_marker);

}  // namespace rbdvol::plugin
