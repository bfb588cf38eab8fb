// Reading a whole omap (or the part of it under a prefix) through
// Pool::omap_get, page by page, for the records that keep more keys than one
// read returns: the snapshot directory, chunk records, the volume and image
// directories.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "plugin/ceph/env.h"
#include "status/status.h"

namespace rbdvol::plugin {

// Keys per read: librados' default osd_max_omap_entries_per_request.
inline constexpr uint64_t kOmapReadPage = 1024;

// Calls visit(key, value) for every omap pair of `oid` whose key starts
// with `prefix` ("" = all), in key order, one page in memory at a time.
// Stops at the first error `visit` returns, and returns it. ENOENT (from
// Pool::omap_get) when the object does not exist.
using OmapVisitor = std::function<Status(const std::string& key, const std::string& value)>;
Status omap_visit(Pool& io, const std::string& oid, const std::string& prefix,
                  const OmapVisitor& visit);

// Every omap pair of `oid` whose key starts with `prefix`, as omap_visit
// reads them.
Result<std::map<std::string, std::string>> omap_read_all(Pool& io, const std::string& oid,
                                                         const std::string& prefix);

// The same for each of `oids` (in their order), their pages read together
// (Pool::omap_get_many): one round trip per page, whatever the number of
// objects. An object that does not exist holds nothing; any other error is
// returned (the first, naming its object).
Result<std::vector<std::map<std::string, std::string>>> omap_read_all_of(
    Pool& io, const std::vector<std::string>& oids, const std::string& prefix);

}  // namespace rbdvol::plugin
