// Images: upload (raw and qcow2), show, copy across clusters, delete, images
// from volumes, and the copy engine under them, against the sandbox's two
// real clusters.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

namespace {

// Bytes in allocated extents of pool/image, as librbd reports them (parent
// data not included: what this image itself holds).
uint64_t allocated_bytes(CephView& ceph, const std::string& pool, const std::string& image) {
  rbd_image_t img = nullptr;
  REQUIRE(rbd_open_read_only(ceph.pool(pool), image.c_str(), &img, nullptr) == 0);
  uint64_t size = 0;
  REQUIRE(rbd_get_size(img, &size) == 0);
  uint64_t total = 0;
  REQUIRE(rbd_diff_iterate2(
              img, nullptr, 0, size, 0, 0,
              [](uint64_t, size_t len, int exists, void* arg) -> int {
                if (exists) *static_cast<uint64_t*>(arg) += len;
                return 0;
              },
              &total) == 0);
  rbd_close(img);
  return total;
}

void write_image(CephView& ceph, const std::string& pool, const std::string& image, uint64_t off,
                 const std::string& bytes) {
  rbd_image_t img = nullptr;
  REQUIRE(rbd_open(ceph.pool(pool), image.c_str(), &img, nullptr) == 0);
  REQUIRE(rbd_write(img, off, bytes.size(), bytes.data()) == static_cast<ssize_t>(bytes.size()));
  REQUIRE(rbd_flush(img) == 0);
  rbd_close(img);
}

// A sparse raw file of `size` bytes with known data at a few places and
// holes (zeros) everywhere else: 1 MiB of 0xab at 0, 64 KiB of a counting
// pattern at 9 MiB + 512, and 4 KiB of 0x5c at the end.

// The errno text the C host prints for a failed call: "(Device or resource busy)".
CommandResult call_through_c_abi(const std::string& op, const nlohmann::json& request) {
  const char* config = std::getenv("RBDVOL_CONFIG");
  REQUIRE(config != nullptr);
  return run({RBDVOL_C_HOST_PATH, RBDVOL_PLUGIN_PATH, config, op, request.dump()});
}

}  // namespace

TEST_CASE("an uploaded qcow2 file is stored as raw with the same bytes, its format and checksum",
          "[integration][images]") {
  PatternFile raw(24 << 20);
  // A name that says raw: the format must come from the content.
  const std::string qcow2 = raw.path + ".qcow2-named.raw";
  auto conv = run({"qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw.path, qcow2});
  REQUIRE(conv.exit_code == 0);
  struct Unlink {
    std::string p;
    ~Unlink() { unlink(p.c_str()); }
  } unlink_qcow2{qcow2};
  REQUIRE(read_file(qcow2).compare(0, 4, "QFI\xfb") == 0);

  ImageCleanup cleanup;
  auto up = rbdvol_json({"image", "upload", qcow2, "--name", "from-qcow2", "--backend", "fast"});
  const std::string id = up.at("id");
  cleanup.add("fast", "images", "image-" + id);
  CHECK(up.at("format") == "qcow2");
  CHECK(up.at("size") == raw.size);
  CHECK(up.at("checksum") == chunk_list_sha256_of(raw.path));
  // `image checksum` of the qcow2 file gives the same, without uploading.
  auto local = rbdvol_json({"image", "checksum", qcow2});
  CHECK(local.at("checksum") == up.at("checksum"));
  CHECK(local.at("format") == "qcow2");
  CHECK(local.at("size") == raw.size);

  CephView fast("fast");
  CHECK(fast.read("images", "image-" + id) == read_file(raw.path));
  // Complete, and no snapshot: the first volume made from it makes that.
  CHECK_FALSE(fast.metadata("images", "image-" + id, "rbdvol.complete").empty());
  CHECK(fast.snapshots("images", "image-" + id).empty());
  // Thin: the holes of the qcow2 image were not written. The data lies in 3
  // of the 6 objects; a memstore OSD reports an object as allocated from its
  // start to its last written byte, so up to 3 objects may count.
  const uint64_t allocated = allocated_bytes(fast, "images", "image-" + id);
  CHECK(allocated >= raw.data_bytes);
  CHECK(allocated <= 3 * (4 << 20));

  auto shown = rbdvol_json({"image", "show", id});
  CHECK(shown.at("id") == id);
  CHECK(shown.at("format") == "qcow2");
  CHECK(shown.at("checksum") == chunk_list_sha256_of(raw.path));
  CHECK(shown.at("size") == raw.size);
  CHECK(location_backends(shown) == std::vector<std::string>{"fast"});
  // No converted file is left in the temporary directory.
  auto leftovers = run({"sh", "-c", "ls /var/tmp | grep -c rbdvol-raw- || true"});
  CHECK(leftovers.out == "0\n");
}

TEST_CASE("image checksum gives a file's upload checksum without a cluster, holes read as zeros",
          "[integration][images]") {
  PatternFile sparse(24 << 20);
  // The same bytes with every hole written out as zeros.
  const std::string dense = sparse.path + ".dense";
  REQUIRE(run({"cp", "--sparse=never", sparse.path, dense}).exit_code == 0);
  struct Unlink {
    std::string p;
    ~Unlink() { unlink(p.c_str()); }
  } unlink_dense{dense};

  auto holes = rbdvol_json({"image", "checksum", sparse.path});
  auto zeros = rbdvol_json({"image", "checksum", dense});
  CHECK(holes.at("checksum") == chunk_list_sha256_of(sparse.path));
  CHECK(zeros.at("checksum") == holes.at("checksum"));
  CHECK(holes.at("format") == "raw");
  CHECK(holes.at("size") == sparse.size);
  CHECK(holes.at("chunk_size") == 4 << 20);
  CHECK(holes.at("chunks") == 6);
  // Only the sparse file's data was read: 3 of its 6 chunks hold any.
  CHECK(holes.at("chunks_read") == 3);
  CHECK(holes.at("bytes_read").get<uint64_t>() < zeros.at("bytes_read").get<uint64_t>());
  CHECK(zeros.at("bytes_read") == sparse.size);

  // Another chunk size is named in the checksum, and gives another.
  auto small = rbdvol_json({"image", "checksum", sparse.path, "--chunk-size", "1M"});
  CHECK(small.at("checksum") == chunk_list_sha256_of(sparse.path, 1 << 20));
  CHECK(small.at("checksum").get<std::string>().rfind("sha256-chunks-1048576:", 0) == 0);

  // Plain output: the checksum, two spaces, the file, as sha256sum prints.
  auto plain = run_rbdvol({"image", "checksum", sparse.path});
  CHECK(plain.exit_code == 0);
  CHECK(plain.out == holes.at("checksum").get<std::string>() + "  " + sparse.path + "\n");

  // Without any config file, as on a machine that only prepares images.
  auto unconfigured = run({"env", "-u", "RBDVOL_CONFIG", RBDVOL_CLI_PATH, "--config",
                           "/nonexistent/rbdvol.conf", "image", "checksum", sparse.path});
  CHECK(unconfigured.exit_code == 0);
  CHECK(unconfigured.out == plain.out);
  // A command that needs the config still says which file is missing.
  auto listing = run({"env", "-u", "RBDVOL_CONFIG", RBDVOL_CLI_PATH, "--config",
                      "/nonexistent/rbdvol.conf", "image", "list"});
  CHECK(listing.exit_code != 0);
  CHECK(listing.err.find("/nonexistent/rbdvol.conf") != std::string::npos);

  SECTION("bad input is named") {
    auto missing = run_rbdvol({"image", "checksum", sparse.path + ".missing"});
    CHECK(missing.exit_code != 0);
    CHECK(missing.err.find("cannot open " + sparse.path + ".missing") != std::string::npos);
    auto directory = run_rbdvol({"image", "checksum", "/var/tmp"});
    CHECK(directory.exit_code != 0);
    CHECK(directory.err.find("/var/tmp is not a regular file") != std::string::npos);
    auto odd = run_rbdvol({"image", "checksum", sparse.path, "--chunk-size", "3M"});
    CHECK(odd.exit_code != 0);
    CHECK(odd.err.find("not an RBD object size") != std::string::npos);
  }
}

TEST_CASE("a raw upload reads back the same bytes and image list shows its checksum",
          "[integration][images]") {
  ImageCleanup cleanup;
  TempFile file(10 << 20);
  auto up = rbdvol_json({"image", "upload", file.path(), "--name", "raw-checked"});
  const std::string id = up.at("id");
  cleanup.add(up.at("backend"), "images", "image-" + id);
  CHECK(up.at("format") == "raw");
  CHECK(up.at("checksum") == chunk_list_sha256_of(file.path()));
  CephView ceph(up.at("backend"));
  CHECK(ceph.read("images", "image-" + id) == read_file(file.path()));

  bool listed = false;
  const auto list = rbdvol_json({"image", "list"});
  for (const auto& i : list.at("images")) {
    if (i.at("id") != id) continue;
    listed = true;
    CHECK(i.at("checksum") == chunk_list_sha256_of(file.path()));
    CHECK(i.at("format") == "raw");
  }
  CHECK(listed);

  SECTION("a broken qcow2 file is refused with qemu-img's reason and leaves nothing") {
    CephView fast("fast");
    // Were it made, the image would have the id chosen here.
    const std::string chosen = random_uuid();
    TempFile bad(1 << 20);
    {
      FILE* f = fopen(bad.path().c_str(), "r+b");
      REQUIRE(f != nullptr);
      fwrite("QFI\xfb", 1, 4, f);
      fclose(f);
    }
    auto r = run_rbdvol_with_faults("new-id=" + chosen,
                                    {"image", "upload", bad.path(), "--name", "bad"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("qcow2") != std::string::npos);
    CHECK(images_of(fast, "images", {chosen}).empty());
  }
}

TEST_CASE("an image copied to the other cluster has the same bytes and stays thin",
          "[integration][images]") {
  ImageCleanup cleanup;
  PatternFile raw(48 << 20);
  auto up = rbdvol_json({"image", "upload", raw.path, "--name", "to-copy", "--backend", "fast"});
  const std::string id = up.at("id");
  const std::string rbd_name = "image-" + id;
  cleanup.add("fast", "images", rbd_name);
  cleanup.add("capacity", "images", rbd_name);

  auto copied = rbdvol_json({"image", "copy", id, "--to", "capacity"});
  CHECK(copied.at("id") == id);
  REQUIRE(copied.at("copied").size() == 1);
  CHECK(copied.at("copied")[0].at("backend") == "capacity");
  CHECK(location_backends(copied) == std::vector<std::string>{"capacity", "fast"});

  CephView capacity("capacity");
  CHECK(capacity.snapshots("images", rbd_name).empty());
  CHECK_FALSE(capacity.metadata("images", rbd_name, "rbdvol.complete").empty());
  CHECK(capacity.read("images", rbd_name) == read_file(raw.path));
  const uint64_t allocated = allocated_bytes(capacity, "images", rbd_name);
  CHECK(allocated >= raw.data_bytes);
  // Not the 48 MiB of the image: at most the 3 objects that hold data (a
  // memstore OSD counts an object from its start to its last written byte).
  CHECK(allocated <= 3 * (4 << 20));

  auto shown = rbdvol_json({"image", "show", id});
  CHECK(location_backends(shown) == std::vector<std::string>{"capacity", "fast"});
  CHECK(shown.at("checksum") == chunk_list_sha256_of(raw.path));  // the copy carries the metadata

  SECTION("copying again skips the backends that hold it and says so") {
    auto again = rbdvol_json({"image", "copy", id, "--to", "capacity,fast"});
    CHECK(again.at("copied").empty());
    REQUIRE(again.at("skipped").size() == 2);
    CHECK(again.at("skipped")[0].at("reason").get<std::string>().find("already holds") !=
          std::string::npos);
  }
  SECTION("delete --backend removes one copy and keeps the other") {
    auto deleted = rbdvol_json({"image", "delete", id, "--backend", "capacity"});
    CHECK(deleted.at("deleted_from") == nlohmann::json{"capacity"});
    CHECK(deleted.at("remaining") == nlohmann::json{"fast"});
    CHECK_FALSE(capacity.image_exists("images", rbd_name));
    CephView fast("fast");
    CHECK(fast.image_exists("images", rbd_name));
    auto r = run_rbdvol({"image", "delete", id, "--backend", "capacity"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("no copy in backend capacity") != std::string::npos);
  }
}

TEST_CASE("an image copy that fails half way leaves nothing in the target backend",
          "[integration][images]") {
  ImageCleanup cleanup;
  const std::string id = upload_random_image(12 << 20, "fast", "copy-fails");
  cleanup.add("fast", "images", "image-" + id);
  cleanup.add("capacity", "images", "image-" + id);
  CephView capacity("capacity");
  for (const char* point : {"image.copy:after-data", "image.copy:before-complete"}) {
    INFO(point);
    auto r = run_rbdvol_with_faults(point, {"image", "copy", id, "--to", "capacity"});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find(std::string("injected fault at ") + point) != std::string::npos);
    CHECK(r.err.find("capacity") != std::string::npos);
    // The copy is image-<id> in capacity: gone again.
    CHECK(images_of(capacity, "images", {id}).empty());
  }
  CHECK(location_backends(rbdvol_json({"image", "show", id})) == std::vector<std::string>{"fast"});
}

TEST_CASE("a volume of type hdd from an image only fast holds copies it once, then clones",
          "[integration][images]") {
  ImageCleanup cleanup;
  TempFile file(16 << 20);
  const std::string id = upload_to_fast(file.path(), "hdd-source", cleanup);

  auto first = rbdvol_json({"volume", "create", "--type", "hdd", "--image", id});
  cleanup.add("capacity", "volumes", first.at("image"));
  CHECK(first.at("backend") == "capacity");
  CHECK(first.at("method") == "copy");
  // The copy has no snapshot of its own: this first volume made it.
  CHECK(first.at("steps") == nlohmann::json{"copy", "snapshot", "clone"});
  CephView capacity("capacity");
  CHECK(capacity.snapshot_protected("images", "image-" + id, "snap"));
  CHECK(capacity.parent_of("volumes", first.at("image")) == "images/image-" + id + "@snap");
  CHECK(capacity.read("volumes", first.at("image")) == read_file(file.path()));

  auto second = rbdvol_json({"volume", "create", "--type", "hdd", "--image", id});
  cleanup.add("capacity", "volumes", second.at("image"));
  CHECK(second.at("backend") == "capacity");
  CHECK(second.at("method") == "clone");
  CHECK(second.at("steps") == nlohmann::json{"clone"});
  CHECK(capacity.parent_of("volumes", second.at("image")) == "images/image-" + id + "@snap");
}

TEST_CASE("an image with clones is not deleted, and --force flattens them first",
          "[integration][images]") {
  ImageCleanup cleanup;
  TempFile file(8 << 20);
  const std::string id = upload_to_fast(file.path(), "has-clones", cleanup);
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--image", id});
  cleanup.add("fast", "volumes", volume.at("image"));
  CephView fast("fast");

  auto refused = call_through_c_abi("image.delete", {{"id", id}});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("(Device or resource busy)") != std::string::npos);
  CHECK(refused.err.find(volume.at("image").get<std::string>()) != std::string::npos);
  CHECK(refused.err.find("fast") != std::string::npos);
  CHECK(fast.image_exists("images", "image-" + id));

  auto forced = rbdvol_json({"image", "delete", id, "--force"});
  CHECK(forced.at("flattened").size() == 1);
  CHECK(forced.at("deleted_from") == nlohmann::json{"fast"});
  CHECK_FALSE(fast.image_exists("images", "image-" + id));
  CHECK(fast.parent_of("volumes", volume.at("image")) == "");
  CHECK(fast.read("volumes", volume.at("image")) == read_file(file.path()));

  SECTION("deleting it again is ENOENT naming the id") {
    auto gone = call_through_c_abi("image.delete", {{"id", id}});
    CHECK(gone.exit_code != 0);
    CHECK(gone.err.find("(No such file or directory)") != std::string::npos);
    CHECK(gone.err.find(id) != std::string::npos);
  }
}

TEST_CASE("an image made from a volume lands on its backend and outlives the volume",
          "[integration][images]") {
  ImageCleanup cleanup;
  const std::string source = upload_random_image(8 << 20, "fast", "vol-source");
  cleanup.add("fast", "images", "image-" + source);
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--image", source});
  const std::string vol_image = volume.at("image");
  cleanup.add("fast", "volumes", vol_image);
  CephView fast("fast");
  write_image(fast, "volumes", vol_image, 3 << 20, std::string(100000, '\x77'));
  const std::string expected = fast.read("volumes", vol_image);

  auto image =
      rbdvol_json({"image", "create-from-volume", volume.at("id"), "--name", "from-volume"});
  const std::string id = image.at("id");
  cleanup.add("fast", "images", "image-" + id);
  CHECK(image.at("backend") == "fast");  // image_store = same
  CHECK(image.at("method") == "clone-flatten");
  CHECK(image.at("source_volume") == volume.at("id"));
  CHECK(fast.parent_of("images", "image-" + id) == "");    // no dependency on the volume
  CHECK(fast.snapshots("images", "image-" + id).empty());  // made by its first volume
  CHECK_FALSE(fast.metadata("images", "image-" + id, "rbdvol.complete").empty());
  CHECK(fast.snapshots("volumes", vol_image).empty());  // temporary snapshot gone
  CHECK(fast.read("images", "image-" + id) == expected);
  // The volume's own keys did not come along with the clone.
  auto shown = rbdvol_json({"image", "show", id});
  CHECK(shown.at("name") == "from-volume");
  CHECK(shown.at("source_volume") == volume.at("id"));
  CHECK(shown.at("checksum") == "");  // librbd's flatten moved the data: nothing hashed it

  rbdvol_json({"volume", "delete", volume.at("id")});
  CHECK_FALSE(fast.image_exists("volumes", vol_image));
  auto clone = rbdvol_json({"volume", "create", "--type", "ssd", "--image", id});
  cleanup.add("fast", "volumes", clone.at("image"));
  CHECK(clone.at("method") == "clone");
  CHECK(clone.at("steps") == nlohmann::json{"snapshot", "clone"});
  CHECK(fast.snapshot_protected("images", "image-" + id, "snap"));
  CHECK(fast.read("volumes", clone.at("image")) == expected);
}

TEST_CASE("an image from a volume goes to the backend image_store names, through the copy engine",
          "[integration][images]") {
  ConfigCopy config("", "[disk_type:ssd-archived]\ntags = media:ssd\nimage_store = capacity\n");
  ImageCleanup cleanup;
  // A clone of an image, so the copy must read the parent's data too.
  const std::string source = upload_random_image(8 << 20, "fast", "archived-source");
  cleanup.add("fast", "images", "image-" + source);
  auto volume = rbdvol_json({"--config", config.path(), "volume", "create", "--type",
                             "ssd-archived", "--image", source, "--size", "40M"});
  cleanup.add("fast", "volumes", volume.at("image"));
  CephView fast("fast");
  write_image(fast, "volumes", volume.at("image"), 0, std::string(300000, '\x11'));
  write_image(fast, "volumes", volume.at("image"), 33 << 20, std::string(5000, '\x22'));
  const std::string expected = fast.read("volumes", volume.at("image"));

  auto image = rbdvol_json({"--config", config.path(), "image", "create-from-volume",
                            volume.at("id"), "--name", "archived"});
  const std::string id = image.at("id");
  cleanup.add("capacity", "images", "image-" + id);
  CHECK(image.at("backend") == "capacity");
  CHECK(image.at("method") == "copy");
  CephView capacity("capacity");
  CHECK(capacity.read("images", "image-" + id) == expected);
  CHECK(capacity.snapshots("images", "image-" + id).empty());
  // Thin: the parent's 8 MiB and what was written, not 40 MiB.
  CHECK(allocated_bytes(capacity, "images", "image-" + id) <= (16 << 20));
  CHECK(fast.snapshots("volumes", volume.at("image")).empty());
  // The copy recorded its chunks as an upload does: a checksum of the
  // volume's bytes, and image verify checks the copy.
  TempFile bytes(0);
  {
    std::ofstream out(bytes.path(), std::ios::binary | std::ios::trunc);
    out.write(expected.data(), static_cast<std::streamsize>(expected.size()));
  }
  CHECK(image.at("checksum") == chunk_list_sha256_of(bytes.path()));
  CHECK(rbdvol_json({"image", "show", id}).at("checksum") == image.at("checksum"));
  auto verified = run_rbdvol({"--config", config.path(), "image", "verify", id});
  INFO(verified.out << verified.err);
  CHECK(verified.exit_code == 0);
}

TEST_CASE("an image from an attached volume is refused unless forced, and a failure leaves nothing",
          "[integration][images]") {
  ImageCleanup cleanup;
  auto volume = rbdvol_json({"volume", "create", "--type", "ssd", "--size", "8M"});
  const std::string vol_image = volume.at("image");
  cleanup.add("fast", "volumes", vol_image);
  CephView fast("fast");
  // The id an image made from the volume gets (new-id), so that the test
  // looks for that image alone.
  const std::string chosen = random_uuid();

  SECTION("attached") {
    rbd_image_t img = nullptr;
    REQUIRE(rbd_open(fast.pool("volumes"), vol_image.c_str(), &img, nullptr) == 0);
    REQUIRE(rbd_metadata_set(img, "rbdvol.attachments",
                             R"([{"domain":"vm-image-test","state":"attached"}])") == 0);
    rbd_close(img);
    setenv("RBDVOL_FAULT", ("new-id=" + chosen).c_str(), 1);
    auto refused = call_through_c_abi("image.create_from_volume",
                                      {{"volume", volume.at("id")}, {"name", "attached"}});
    unsetenv("RBDVOL_FAULT");
    CHECK(refused.exit_code != 0);
    CHECK(refused.err.find("(Device or resource busy)") != std::string::npos);
    CHECK(refused.err.find("vm-image-test") != std::string::npos);
    CHECK(images_of(fast, "images", {chosen}).empty());

    auto forced = rbdvol_json(
        {"image", "create-from-volume", volume.at("id"), "--name", "attached", "--force"});
    cleanup.add("fast", "images", "image-" + forced.at("id").get<std::string>());
    CHECK(forced.at("backend") == "fast");
    // Detach by hand again, so the cleanup can remove the volume.
    REQUIRE(rbd_open(fast.pool("volumes"), vol_image.c_str(), &img, nullptr) == 0);
    REQUIRE(rbd_metadata_set(img, "rbdvol.attachments", "[]") == 0);
    rbd_close(img);
  }
  SECTION("failures") {
    for (const char* point :
         {"image.create_from_volume:after-clone", "image.create_from_volume:before-complete"}) {
      INFO(point);
      auto r = run_rbdvol_with_faults(
          std::string(point) + ",new-id=" + chosen,
          {"image", "create-from-volume", volume.at("id"), "--name", "fails"});
      CHECK(r.exit_code != 0);
      CHECK(r.err.find(std::string("injected fault at ") + point) != std::string::npos);
      CHECK(r.err.find("nothing was left behind") != std::string::npos);
      CHECK(images_of(fast, "images", {chosen}).empty());
      CHECK(fast.snapshots("volumes", vol_image).empty());
    }
  }
}
