// image.verify: reads each copy of an image (or the one in `backend`) at its
// snapshot `snap` when a volume made it, else at its head (the same bytes),
// and checks every chunk against the digests recorded with that copy when its
// data was written (chunk_record.h).
#include <algorithm>

#include "plugin/ceph/rbd_image.h"
#include "plugin/ops/operations.h"
#include "plugin/ops/request.h"
#include "plugin/records/catalog.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/chunk_record.h"
#include "plugin/transfer/copy_engine.h"

namespace rbdvol::plugin {

namespace {

std::string describe(const std::optional<ChunkDigest>& d) {
  if (!d) return "not recorded";
  return d->zero ? "zero" : "sha256:" + hex_of(d->sha256);
}

// One copy checked: its answer entry.
Result<Json> verify_copy(Cluster& cluster, const ImageLocation& where, const Progress& progress) {
  auto io = cluster.open_pool(where.pool);
  if (!io.ok()) return io.status();
  Json entry = {{"backend", where.backend}, {"pool", where.pool}, {"image", where.rbd_name}};
  auto header = read_chunk_record_header(**io, where.rbd_name);
  if (!header.ok()) return header.status();
  if (!*header) {
    // Images uploaded or copied before chunk records existed, and images made
    // from volumes by a clone and flatten, have none.
    entry["state"] = "unrecorded";
    entry["ok"] = false;
    entry["mismatches"] = Json::array();
    return entry;
  }
  auto expected = read_chunk_digests(**io, where.rbd_name, **header);
  if (!expected.ok()) return expected.status();

  auto opened = open_image_data_for_engine(**io, where.rbd_name, "backend " + where.backend);
  if (!opened.ok()) return opened.status();
  OpenImage& image = **opened;
  uint64_t size = 0;
  auto read_size = image.image->size();
  int r = as_errno(read_size.status());
  if (r == 0) size = *read_size;
  if (r < 0) {
    return Status::Error(r, "cannot read the size of " + image.label + ": " + ceph_strerror(r));
  }
  if (size != (*header)->size) {
    return Status::Error(EIO, image.label + " has " + std::to_string(size) +
                                  " bytes but its chunk record " + std::to_string((*header)->size));
  }
  // What the copy holds now; chunks never reported are holes (zeros).
  std::vector<std::optional<ChunkDigest>> found(expected->size());
  auto read = digest_image_data(
      image, (*header)->chunk_size,
      [&](const ChunkDigest& d) {
        if (d.index < found.size()) found[d.index] = d;
      },
      progress, default_copy_options("verify"));
  if (!read.ok()) return read.status();

  Json mismatches = Json::array();
  for (uint64_t i = 0; i < expected->size(); ++i) {
    const ChunkDigest zero = zero_chunk(i, (*header)->chunk_size, (*header)->size);
    const ChunkDigest actual = found[i] ? *found[i] : zero;
    const auto& want = (*expected)[i];
    const bool same =
        want && want->zero == actual.zero && (want->zero || want->sha256 == actual.sha256);
    if (same) continue;
    mismatches.push_back({{"index", i},
                          {"offset", zero.offset},
                          {"length", zero.length},
                          {"expected", describe(want)},
                          {"found", describe(actual)}});
  }
  entry["state"] = (*header)->state;
  entry["chunks"] = expected->size();
  entry["chunk_size"] = (*header)->chunk_size;
  entry["chunks_read"] = read->chunks_read;
  entry["bytes_read"] = read->allocated;
  entry["seconds"] = read->seconds;
  entry["ok"] = mismatches.empty() && (*header)->state == "complete";
  entry["mismatches"] = mismatches;
  return entry;
}

}  // namespace

Result<Json> image_verify(Driver& driver, const Json& request, const Progress& progress) {
  auto id = required_string(request, "id");
  if (!id.ok()) return id.status();
  auto only = optional_backend(driver, request);
  if (!only.ok()) return only.status();
  auto image = find_image(driver, *id);
  if (!image.ok()) return image.status();
  Json copies = Json::array();
  bool all_ok = true;
  for (const auto& l : image->locations) {
    if (!only->empty() && l.backend != *only) continue;
    auto entry = verify_copy(*driver.cluster(l.backend), l, progress);
    if (!entry.ok()) return entry.status().Prefixed("verify of image " + image->id);
    all_ok = all_ok && (*entry)["ok"].get<bool>();
    copies.push_back(*entry);
  }
  if (copies.empty()) {
    return Status::NotFound("image " + image->id + " has no copy in backend " + *only);
  }
  return Json{{"id", image->id}, {"name", image->name}, {"ok", all_ok}, {"copies", copies}};
}

}  // namespace rbdvol::plugin
