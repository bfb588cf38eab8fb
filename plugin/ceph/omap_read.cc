#include "plugin/ceph/omap_read.h"

#include <cerrno>

namespace rbdvol::plugin {

Status omap_visit(Pool& io, const std::string& oid, const std::string& prefix,
                  const OmapVisitor& visit) {
  std::string after;
  for (;;) {
    ASSIGN_OR_RETURN(OmapPage page, io.omap_get(oid, after, prefix, kOmapReadPage));
    for (const auto& [key, value] : page.values) RETURN_IF_ERROR(visit(key, value));
    if (page.values.empty() || !page.more) return Status::Ok();
    after = page.values.rbegin()->first;
  }
}

Result<std::map<std::string, std::string>> omap_read_all(Pool& io, const std::string& oid,
                                                         const std::string& prefix) {
  std::map<std::string, std::string> out;
  RETURN_IF_ERROR(
      omap_visit(io, oid, prefix, [&](const std::string& key, const std::string& value) {
        out.emplace(key, value);
        return Status::Ok();
      }));
  return out;
}

Result<std::vector<std::map<std::string, std::string>>> omap_read_all_of(
    Pool& io, const std::vector<std::string>& oids, const std::string& prefix) {
  std::vector<std::map<std::string, std::string>> out(oids.size());
  // The objects with more to read, and where each goes on.
  std::vector<size_t> pending(oids.size());
  for (size_t i = 0; i < oids.size(); ++i) pending[i] = i;
  std::vector<std::string> after(oids.size());
  Status failure;
  while (!pending.empty()) {
    std::vector<OmapRead> reads;
    for (size_t i : pending) reads.push_back({oids[i], after[i], prefix, kOmapReadPage});
    std::vector<Result<OmapPage>> pages = io.omap_get_many(reads);
    std::vector<size_t> next;
    for (size_t n = 0; n < pending.size(); ++n) {
      const size_t i = pending[n];
      Result<OmapPage>& page = pages[n];
      if (!page.ok()) {
        // ENOENT: an object nothing was written to yet.
        if (page.status().err() != ENOENT && failure.ok()) failure = page.status();
        continue;
      }
      if (page->values.empty()) continue;
      after[i] = page->values.rbegin()->first;
      out[i].merge(page->values);
      if (page->more) next.push_back(i);
    }
    if (!failure.ok()) return failure;
    pending = std::move(next);
  }
  return out;
}

}  // namespace rbdvol::plugin
