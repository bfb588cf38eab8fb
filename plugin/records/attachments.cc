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

Result<std::string> header_object(rbd_image_t image) {
  char id[64] = {0};
  int r = rbd_get_id(image, id, sizeof(id));
  if (r < 0) return Status::Error(r, "cannot read the image id: " + ceph_strerror(r));
  return std::string("rbd_header.") + id;
}

struct Versioned {
  Json records = Json::array();
  uint64_t version = 0;
};

Result<Versioned> read_versioned(rados_ioctx_t io, const std::string& oid) {
  rados_read_op_t op = rados_create_read_op();
  const char* keys[] = {kOmapKey.c_str()};
  const size_t key_lens[] = {kOmapKey.size()};
  rados_omap_iter_t iter = nullptr;
  int prval = 0;
  rados_read_op_omap_get_vals_by_keys2(op, keys, 1, key_lens, &iter, &prval);
  int r = rados_read_op_operate(op, io, oid.c_str(), 0);
  Versioned out;
  out.version = rados_get_last_version(io);
  std::string value;
  bool found = false;
  if (r >= 0 && prval >= 0 && iter) {
    char *k = nullptr, *v = nullptr;
    size_t klen = 0, vlen = 0;
    while (rados_omap_get_next2(iter, &k, &v, &klen, &vlen) == 0 && k) {
      if (std::string(k, klen) == kOmapKey) {
        value.assign(v, vlen);
        found = true;
      }
    }
  }
  if (iter) rados_omap_get_end(iter);
  rados_release_read_op(op);
  if (r < 0)
    return Status::Error(r, "cannot read attachments from " + oid + ": " + ceph_strerror(r));
  if (prval < 0) return Status::Error(prval, "cannot read attachments: " + ceph_strerror(prval));
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

Result<Json> read_attachments(rados_ioctx_t io, rbd_image_t image) {
  auto oid = header_object(image);
  if (!oid.ok()) return oid.status();
  auto v = read_versioned(io, *oid);
  if (!v.ok()) return v.status();
  return v->records;
}

Result<Json> update_attachments(rados_ioctx_t io, rbd_image_t image,
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
    rados_write_op_t op = rados_create_write_op();
    rados_write_op_assert_version(op, current->version);
    const char* keys[] = {kOmapKey.c_str()};
    const char* vals[] = {value.c_str()};
    const size_t key_lens[] = {kOmapKey.size()};
    const size_t val_lens[] = {value.size()};
    rados_write_op_omap_set2(op, keys, vals, key_lens, val_lens, 1);
    int r = rados_write_op_operate2(op, io, oid->c_str(), nullptr, 0);
    rados_release_write_op(op);
    if (r == 0) return records;
    if (r != -ERANGE && r != -EOVERFLOW) {
      return Status::Error(r, "cannot write attachments to " + *oid + ": " + ceph_strerror(r));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::Error(EAGAIN, "attachments of " + *oid + " kept changing; gave up after 10 s");
    }
    // Someone else changed the header between our read and our write.
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 50));
  }
}

}  // namespace rbdvol::plugin
