#include "plugin/records/attachments.h"

#include <chrono>
#include <random>
#include <thread>

#include "plugin/ceph/rbd_image.h"
#include "plugin/records/naming.h"

namespace rbdvol::plugin {

namespace {

// librbd keeps image metadata as omap values of the header object, under
// "metadata_" + key, as the raw bytes of the value.
const std::string kOmapKey = "metadata_" + meta::kAttachments;

Result<std::string> header_object(RbdImage& image) {
  ASSIGN_OR_RETURN(auto id, image.id());
  return "rbd_header." + id;
}

struct VersionedRecords {
  Json records = Json::array();
  uint64_t version = 0;
};

Result<VersionedRecords> read_versioned(Pool& io, const std::string& oid) {
  auto page = io.omap_get_keys(oid, {kOmapKey});
  if (!page.ok()) return page.status().Prefixed("cannot read attachments");
  VersionedRecords out;
  out.version = page->version;
  const auto it = page->values.find(kOmapKey);
  const bool found = it != page->values.end();
  const std::string value = found ? it->second : std::string();
  if (found && !value.empty()) {
    try {
      out.records = Json::parse(value);
    } catch (const std::exception& e) {
      return Status::Error(EIO, "attachment records of " + oid + " are not JSON: " + e.what());
    }
    if (!out.records.is_array())
      return Status::Error(EIO, "attachment records of " + oid + " are not a list");
  }
  return out;
}

}  // namespace

Result<Json> read_attachments(Pool& io, RbdImage& image) {
  auto oid = header_object(image);
  if (!oid.ok()) return oid.status();
  auto v = read_versioned(io, *oid);
  if (!v.ok()) return v.status();
  return v->records;
}

Result<Json> update_attachments(Pool& io, RbdImage& image,
                                const std::function<Status(Json& records)>& change) {
  auto oid = header_object(image);
  if (!oid.ok()) return oid.status();
  std::mt19937 rng{std::random_device{}()};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    auto current = read_versioned(io, *oid);
    if (!current.ok()) return current.status();
    Json records = current->records;
    Status s = change(records);
    if (!s.ok()) return s;
    const std::string value = records.dump();
    ObjectWrite op;
    op.assert_version = current->version;
    op.omap_set[kOmapKey] = value;
    Status written = io.operate(*oid, op);
    if (written.ok()) return records;
    if (written.err() != ERANGE && written.err() != EOVERFLOW) {
      return written.Prefixed("cannot write attachments");
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Error(EAGAIN, "attachments of " + *oid + " kept changing; gave up after 10 s");
    }
    // Someone else changed the header between our read and our write.
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 50));
  }
}

}  // namespace rbdvol::plugin
