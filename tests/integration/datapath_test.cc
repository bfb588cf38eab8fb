// The data path against the sandbox's two real clusters: chunk digests
// recorded with every image rbdvol writes, a copy killed half way and
// resumed, verify catching a chunk changed behind rbdvol's back, and a
// sparse download.
#include <fcntl.h>
#include <openssl/evp.h>
#include <rados/librados.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <thread>
#include <type_traits>

#include "tests/integration/sandbox.h"
#include "text/hex.h"

using namespace rbdvol::test;

namespace {

constexpr uint64_t kChunk = 4 << 20;  // the sandbox's RBD object size

std::string sha256_hex(const char* data, size_t len) {
  unsigned char md[32];
  unsigned int n = 0;
  REQUIRE(EVP_Digest(data, len, md, &n, EVP_sha256(), nullptr) == 1);
  return rbdvol::text::hex_of(md, n);
}

// The omap of the chunk record rbdvol keeps beside images/<image>: key ->
// JSON value; empty when there is no record.
std::map<std::string, nlohmann::json> chunk_record(CephView& ceph, const std::string& image) {
  std::map<std::string, nlohmann::json> out;
  const std::string oid = "rbdvol_chunks." + image;
  std::string after;
  for (;;) {
    // The op and its iterator are owned: the iterator is set up even when
    // the operation fails (ENOENT), and a failed REQUIRE leaks neither.
    std::unique_ptr<std::remove_pointer_t<rados_read_op_t>, void (*)(rados_read_op_t)> op(
        rados_create_read_op(), rados_release_read_op);
    rados_omap_iter_t raw_iter = nullptr;
    unsigned char more = 0;
    int prval = 0;
    rados_read_op_omap_get_vals2(op.get(), after.c_str(), "", 512, &raw_iter, &more, &prval);
    int r = rados_read_op_operate(op.get(), ceph.pool("images"), oid.c_str(), 0);
    std::unique_ptr<std::remove_pointer_t<rados_omap_iter_t>, void (*)(rados_omap_iter_t)> iter(
        raw_iter, [](rados_omap_iter_t it) {
          if (it) rados_omap_get_end(it);
        });
    if (r == -ENOENT) return out;
    REQUIRE(r == 0);
    char* key = nullptr;
    char* val = nullptr;
    size_t len = 0;
    while (rados_omap_get_next(iter.get(), &key, &val, &len) == 0 && key) {
      after = key;
      out[key] = nlohmann::json::parse(std::string(val, len));
    }
    if (!more) return out;
  }
}

// Names `owner` ("host:pid") as the process writing images/<image> in its
// chunk record, as a copy running on that host would have.
void set_record_owner(CephView& ceph, const std::string& image, const std::string& owner) {
  auto header = chunk_record(ceph, image).at("header");
  header["owner"] = owner;
  const std::string value = header.dump();
  const char* keys[] = {"header"};
  const char* vals[] = {value.c_str()};
  const size_t lens[] = {value.size()};
  rados_write_op_t op = rados_create_write_op();
  rados_write_op_omap_set(op, keys, vals, lens, 1);
  int r = rados_write_op_operate(op, ceph.pool("images"), ("rbdvol_chunks." + image).c_str(),
                                 nullptr, 0);
  rados_release_write_op(op);
  REQUIRE(r == 0);
}

// The chunk entries of a record by chunk index, runs of zero chunks expanded.
std::map<uint64_t, nlohmann::json> chunks_of(const std::map<std::string, nlohmann::json>& record) {
  std::map<uint64_t, nlohmann::json> out;
  for (const auto& [key, value] : record) {
    if (key.compare(0, 2, "c.") != 0) continue;
    const uint64_t first = std::stoull(key.substr(2), nullptr, 16);
    for (uint64_t i = 0; i < value.value("chunks", uint64_t{1}); ++i) out[first + i] = value;
  }
  return out;
}

// The RADOS object holding chunk `index` of images/<image>.
std::string chunk_object(CephView& ceph, const std::string& image, uint64_t index) {
  rbd_image_t img = nullptr;
  REQUIRE(rbd_open_read_only(ceph.pool("images"), image.c_str(), &img, nullptr) == 0);
  char prefix[64] = {0};
  REQUIRE(rbd_get_block_name_prefix(img, prefix, sizeof(prefix)) == 0);
  rbd_close(img);
  char suffix[32];
  std::snprintf(suffix, sizeof(suffix), ".%016llx", static_cast<unsigned long long>(index));
  return std::string(prefix) + suffix;
}

// Writes a few bytes into the RADOS object holding chunk `index` of
// images/<image> without the image's snapshot context: the bytes anyone
// reading the image (its head, or snap made later) gets change, as with bit rot.
void rot_chunk(CephView& ceph, const std::string& image, uint64_t index) {
  const std::string object = chunk_object(ceph, image, index);
  REQUIRE(rados_write(ceph.pool("images"), object.c_str(), "rot", 3, 1000) == 0);
}

// A sparse file of `size` bytes: 1 MiB of 0xab at 0, 64 KiB of a counting
// pattern at 9 MiB + 512, 4 KiB of 0x5c at the end; holes elsewhere.

}  // namespace

TEST_CASE("an uploaded image downloads into a sparse file with the same bytes",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  PatternFile raw(64 << 20);
  auto up =
      rbdvol_json({"image", "upload", raw.path, "--name", "dp-download", "--backend", "fast"});
  const std::string id = up.at("id");
  cleanup.add("fast", "images", "image-" + id);
  const std::string out = raw.path + ".downloaded";
  cleanup.add_file(out);

  auto down = rbdvol_json({"image", "download", id, out});
  CHECK(down.at("backend") == "fast");
  CHECK(down.at("size") == raw.size);
  CHECK(read_file(out) == read_file(raw.path));
  struct stat st {};
  REQUIRE(stat(out.c_str(), &st) == 0);
  CHECK(static_cast<uint64_t>(st.st_size) == raw.size);
  // Holes stayed holes: about the 1.1 MiB of data, not 64 MiB.
  CHECK(static_cast<uint64_t>(st.st_blocks) * 512 >= raw.data_bytes);
  CHECK(static_cast<uint64_t>(st.st_blocks) * 512 <= 2 * raw.data_bytes);

  SECTION("a file that exists is never overwritten") {
    auto r = run_rbdvol({"image", "download", id, out});
    CHECK(r.exit_code != 0);
    CHECK(r.err.find("File exists") != std::string::npos);
    CHECK(read_file(out) == read_file(raw.path));
  }
}

TEST_CASE("a copy across clusters records each chunk's digest of the source and stays thin",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  PatternFile raw(48 << 20);
  const std::string id = upload_to_fast(raw.path, "dp-digests", cleanup);
  const std::string image = "image-" + id;

  auto copied = rbdvol_json({"image", "copy", id, "--to", "capacity"});
  REQUIRE(copied.at("copied").size() == 1);
  const auto& stats = copied.at("copied")[0];
  CHECK(stats.at("chunks") == 12);
  CHECK(stats.at("chunks_written") == 3);  // the chunks with data; holes are not read
  CHECK(stats.at("chunks_skipped_confirmed") == 0);

  const std::string content = read_file(raw.path);
  for (const char* backend : {"fast", "capacity"}) {
    INFO(backend);
    CephView ceph(backend);
    const auto record = chunk_record(ceph, image);
    REQUIRE(record.count("header") == 1);
    CHECK(record.at("header").at("state") == "complete");
    CHECK(record.at("header").at("chunk_size") == kChunk);
    const auto chunks = chunks_of(record);
    REQUIRE(chunks.size() == 12);  // every chunk, holes included
    for (const auto& [index, entry] : chunks) {
      INFO("chunk " << index);
      const uint64_t offset = index * kChunk;
      const std::string bytes = content.substr(offset, kChunk);
      if (bytes.find_first_not_of('\0') == std::string::npos) {
        CHECK(entry.value("zero", false));
      } else {
        CHECK(entry.at("offset") == offset);
        CHECK(entry.at("sha256") == sha256_hex(bytes.data(), bytes.size()));
      }
    }
    CHECK(ceph.metadata("images", image, "rbdvol.incomplete").empty());
  }
  CephView capacity("capacity");
  CHECK(capacity.read("images", image) == content);

  SECTION("removing the copy removes its record") {
    rbdvol_json({"image", "delete", id, "--backend", "capacity"});
    CHECK_FALSE(capacity.image_exists("images", image));
    CHECK(chunk_record(capacity, image).empty());
  }
}

TEST_CASE("a copy reads an object of zeros the source holds and does not write it",
          "[integration][datapath]") {
  // The engine lists whole objects (the object map's answer); an object that
  // exists but holds only zeros, as a discard or a write of zeros leaves, is
  // read, found all zeros, and left a hole in the copy.
  ImageCleanup cleanup;
  PatternFile raw(48 << 20);  // data in chunks 0, 2 and 11
  const std::string id = upload_to_fast(raw.path, "dp-zeros", cleanup);
  const std::string image = "image-" + id;
  CephView fast("fast");
  {
    rbd_image_t img = nullptr;
    REQUIRE(rbd_open(fast.pool("images"), image.c_str(), &img, nullptr) == 0);
    const std::string zeros(4096, '\0');
    CHECK(rbd_write(img, 5 * kChunk + 8192, zeros.size(), zeros.data()) ==
          static_cast<ssize_t>(zeros.size()));
    rbd_close(img);
  }
  uint64_t object_size = 0;
  time_t mtime = 0;
  REQUIRE(rados_stat(fast.pool("images"), chunk_object(fast, image, 5).c_str(), &object_size,
                     &mtime) == 0);

  auto copied = rbdvol_json({"image", "copy", id, "--to", "capacity"});
  REQUIRE(copied.at("copied").size() == 1);
  const auto& stats = copied.at("copied")[0];
  CHECK(stats.at("chunks_written") == 3);
  CHECK(stats.at("chunks_zero") == 1);
  CHECK(stats.at("bytes_written") <= raw.data_bytes + 3 * 4096);
  CephView capacity("capacity");
  CHECK(capacity.read("images", image) == read_file(raw.path));
  CHECK(rados_stat(capacity.pool("images"), chunk_object(capacity, image, 5).c_str(), &object_size,
                   &mtime) == -ENOENT);
  CHECK(rados_stat(capacity.pool("images"), chunk_object(capacity, image, 2).c_str(), &object_size,
                   &mtime) == 0);
}

TEST_CASE("a copy killed half way resumes without rewriting confirmed chunks",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  TempFile file(64 << 20);  // random: 16 chunks of data
  const std::string id = upload_to_fast(file.path(), "dp-resume", cleanup);
  const std::string image = "image-" + id;

  // The process kills itself with SIGKILL once 4 chunks are recorded: a real
  // kill, at a point the test can count on.
  copy_to_capacity_killed(id, "image.copy:kill-after-chunk=4");

  CephView capacity("capacity");
  REQUIRE(capacity.image_exists("images", image));  // left behind, partial
  CHECK(capacity.metadata("images", image, "rbdvol.incomplete").find("fast") != std::string::npos);
  const auto partial = chunks_of(chunk_record(capacity, image));
  const size_t confirmed = partial.size();
  CHECK(confirmed >= 4);
  CHECK(confirmed < 16);
  auto shown = rbdvol_json({"image", "show", id});
  REQUIRE(shown.at("locations").size() == 1);  // the partial copy is not a location
  CHECK(shown.at("locations")[0].at("backend") == "fast");

  auto refused = run_rbdvol({"image", "copy", id, "--to", "capacity"});
  CHECK(refused.exit_code != 0);
  CHECK(refused.err.find("partial copy") != std::string::npos);
  CHECK(refused.err.find("--resume") != std::string::npos);
  CHECK(capacity.image_exists("images", image));  // the refusal touched nothing

  // Two runs resume it at once. The first stops once it has found the partial
  // copy's process gone, before it claims the record; the second claims it
  // and finishes the copy; the first, continued, finds the record changed and
  // stops without breaking a lock or writing a byte.
  setenv("RBDVOL_FAULT", "image.copy:before-claim=stop", 1);
  BackgroundCommand late(rbdvol_argv({"image", "copy", id, "--to", "capacity", "--resume"}));
  unsetenv("RBDVOL_FAULT");
  REQUIRE(late.wait_stopped());
  auto resumed = rbdvol_json({"image", "copy", id, "--to", "capacity", "--resume"});
  late.resume();
  auto lost = late.finish();
  CHECK(lost.exit_code != 0);
  CHECK_THAT(lost.err,
             Catch::Contains("another process took over images/" + image + " at the same time"));
  REQUIRE(resumed.at("copied").size() == 1);
  const auto& stats = resumed.at("copied")[0];
  CHECK(stats.at("chunks_skipped_confirmed") == confirmed);
  CHECK(stats.at("chunks_written") == 16 - confirmed);
  CHECK(stats.at("resumed") == true);
  CHECK(capacity.read("images", image) == read_file(file.path()));
  CHECK(capacity.metadata("images", image, "rbdvol.incomplete").empty());
  CHECK(chunk_record(capacity, image).at("header").at("state") == "complete");
  auto verified = run_rbdvol({"image", "verify", id, "--backend", "capacity"});
  CHECK(verified.exit_code == 0);
}

TEST_CASE("volumes made at once from an image only another backend holds share one copy",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  TempFile file(64 << 20);  // random: 16 chunks of data
  const std::string id = upload_to_fast(file.path(), "dp-shared", cleanup);
  const std::string image = "image-" + id;
  const std::vector<std::string> create = {"--json", "volume",  "create", "--type",
                                           "hdd",    "--image", id};

  // The first create copies the image into capacity and stops itself half
  // way through the copy (SIGSTOP): a copy in progress, for as long as the
  // test wants.
  setenv("RBDVOL_FAULT", "image.copy:stop-after-chunk=4", 1);
  BackgroundCommand first(rbdvol_argv(create));
  unsetenv("RBDVOL_FAULT");
  REQUIRE(first.wait_stopped());
  CephView capacity("capacity");
  REQUIRE(capacity.image_exists("images", image));
  const size_t confirmed = chunks_of(chunk_record(capacity, image)).size();
  CHECK(confirmed >= 4);
  CHECK(confirmed < 16);

  // A create that waits at most a second for a copy making no progress gives
  // up, naming the process, and touches nothing.
  ConfigCopy impatient("copy_wait_timeout = 1");
  std::vector<std::string> args = {"--config", impatient.path()};
  args.insert(args.end(), create.begin() + 1, create.end());
  auto gave_up = run_rbdvol(args);
  CHECK(gave_up.exit_code != 0);
  CHECK_THAT(gave_up.err, Catch::Contains("is being copied by process"));
  CHECK_THAT(gave_up.err, Catch::Contains("copy_wait_timeout"));
  CHECK(chunks_of(chunk_record(capacity, image)).size() == confirmed);
  CHECK(capacity.metadata("images", image, "rbdvol.complete").empty());

  // One with the default timeout waits for the copy, which goes on when the
  // first create is continued; then both clone that one copy.
  // It is waiting once it reports its first progress of stage "wait" (the
  // first line of a stage is printed at once); only then is the first one
  // continued, so that "wait" below is known, not hoped for.
  BackgroundCommand second(rbdvol_argv(create));
  const bool waiting =
      second.wait_for_err("wait for the copy of image " + id + ": ", std::chrono::seconds(60));
  INFO(second.err_so_far());
  REQUIRE(waiting);
  CHECK(second.running());
  first.resume();
  auto a = first.finish();
  auto b = second.finish();
  INFO(a.err << b.err);
  REQUIRE(a.exit_code == 0);
  REQUIRE(b.exit_code == 0);
  const auto made_a = nlohmann::json::parse(a.out);
  const auto made_b = nlohmann::json::parse(b.out);
  cleanup.add(made_a);
  cleanup.add(made_b);
  // (Either may list "snapshot": the one that made `snap`, or both.)
  CHECK(made_a.at("steps").front() == "copy");
  CHECK(made_b.at("steps").front() == "wait");
  CHECK(std::count(made_b.at("steps").begin(), made_b.at("steps").end(), "copy") == 0);
  for (const auto* v : {&made_a, &made_b}) {
    CHECK(v->at("steps").back() == "clone");
    CHECK(v->at("backend") == "capacity");
    CHECK(capacity.parent_of("volumes", v->at("image")) == "images/" + image + "@snap");
  }
  CHECK_FALSE(capacity.metadata("images", image, "rbdvol.complete").empty());
  CHECK(capacity.read("images", image) == read_file(file.path()));
  // Each shows its stage's progress (stderr is no terminal: plain lines, the
  // last at 100%).
  CHECK_THAT(a.err, Catch::Contains("copy of image " + id + ": 100% 64.0 MiB of 64.0 MiB"));
  CHECK_THAT(b.err,
             Catch::Contains("wait for the copy of image " + id + ": 100% 64.0 MiB of 64.0 MiB"));
}

TEST_CASE("a copy by a process on another host is waited for and never taken over while it runs",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  TempFile file(64 << 20);  // random: 16 chunks of data
  const std::string id = upload_to_fast(file.path(), "dp-elsewhere", cleanup);
  const std::string image = "image-" + id;
  const std::vector<std::string> copy = {"image", "copy", id, "--to", "capacity"};
  CephView capacity("capacity");
  const std::string elsewhere = "elsewhere.example:4242";
  // A copy stopped half way whose record names a process on another host:
  // what this host sees of a copy running there. Only the copy's lock, held
  // by a client that still watches the image, says it runs. (A stopped
  // client stops renewing its watch; the OSDs drop it after
  // osd_client_watch_timeout, 30 s: the checks on it come first.)
  auto start_copy_elsewhere = [&] {
    setenv("RBDVOL_FAULT", "image.copy:stop-after-chunk=4", 1);
    auto started = std::make_unique<BackgroundCommand>(rbdvol_argv(copy));
    unsetenv("RBDVOL_FAULT");
    REQUIRE(started->wait_stopped());
    set_record_owner(capacity, image, elsewhere);
    return started;
  };

  auto running = start_copy_elsewhere();
  const auto record = chunk_record(capacity, image);
  const auto holder = capacity.watchers("images", image);
  REQUIRE(holder.size() == 1);
  // Resuming it would break its lock and blocklist its client: refused.
  auto taken = run_rbdvol({"image", "copy", id, "--to", "capacity", "--resume"});
  CHECK(taken.exit_code != 0);
  CHECK_THAT(taken.err, Catch::Contains("is being copied by process " + elsewhere));
  CHECK_THAT(taken.err, Catch::Contains("on another host, and its client " + holder.front()));
  // A volume create waits for it (here at most a second, for no progress).
  ConfigCopy impatient("copy_wait_timeout = 1");
  auto waited = run_rbdvol(
      {"--config", impatient.path(), "volume", "create", "--type", "hdd", "--image", id});
  CHECK(waited.exit_code != 0);
  CHECK_THAT(waited.err, Catch::Contains("is being copied by process " + elsewhere));
  CHECK_THAT(waited.err, Catch::Contains("copy_wait_timeout"));
  CHECK(chunk_record(capacity, image) == record);
  // Its lock was never broken: continued, it finishes the copy.
  running->resume();
  auto finished = running->finish();
  INFO(finished.err);
  CHECK(finished.exit_code == 0);
  CHECK(run_rbdvol({"image", "verify", id, "--backend", "capacity"}).exit_code == 0);

  // Once that process is gone (killed, its client fenced by a blocklist),
  // its copy is a partial copy like one left here: named, then resumed.
  REQUIRE(run_rbdvol({"image", "delete", id, "--backend", "capacity"}).exit_code == 0);
  auto dead = start_copy_elsewhere();
  const auto dead_holder = capacity.watchers("images", image);
  REQUIRE(dead_holder.size() == 1);
  dead->kill();
  capacity.blocklist(dead_holder.front());
  for (int i = 0; i < 100 && !capacity.watchers("images", image).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(capacity.watchers("images", image).empty());
  auto named = run_rbdvol(copy);
  CHECK(named.exit_code != 0);
  CHECK_THAT(named.err, Catch::Contains("left by an interrupted run (" + elsewhere));
  auto resumed = run_rbdvol({"--json", "image", "copy", id, "--to", "capacity", "--resume"});
  INFO(resumed.err);
  REQUIRE(resumed.exit_code == 0);
  CHECK(nlohmann::json::parse(resumed.out).at("copied")[0].at("resumed") == true);
  CHECK(chunk_record(capacity, image).at("header").at("owner") != elsewhere);
  CHECK(capacity.read("images", image) == read_file(file.path()));
}

TEST_CASE("a run that has just resumed a copy is not taken over from another host",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  TempFile file(64 << 20);  // random: 16 chunks of data
  const std::string id = upload_to_fast(file.path(), "dp-claimed", cleanup);
  const std::string image = "image-" + id;
  const std::vector<std::string> resume = {"image", "copy", id, "--to", "capacity", "--resume"};
  copy_to_capacity_killed(id, "image.copy:kill-after-chunk=4");
  // The killed run's client is fenced, so that it no longer watches the copy
  // (the OSDs would drop its watch only after osd_client_watch_timeout).
  CephView capacity("capacity");
  const auto dead_holder = capacity.watchers("images", image);
  REQUIRE(dead_holder.size() == 1);
  capacity.blocklist(dead_holder.front());
  for (int i = 0; i < 100 && !capacity.watchers("images", image).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  REQUIRE(capacity.watchers("images", image).empty());

  // A run resuming it stops once it has named itself in the record, before it
  // breaks the dead run's lock and takes its own; renamed to another host,
  // it is what a process there looks like from here at that moment: no
  // client holds the copy's lock, but one watches its record.
  setenv("RBDVOL_FAULT", "image.copy:after-claim=stop", 1);
  BackgroundCommand claimer(rbdvol_argv(resume));
  unsetenv("RBDVOL_FAULT");
  REQUIRE(claimer.wait_stopped());
  const std::string elsewhere = "elsewhere.example:4242";
  set_record_owner(capacity, image, elsewhere);
  const auto record = chunk_record(capacity, image);
  CHECK(capacity.watchers("images", image).empty());

  auto taken = run_rbdvol(resume);
  CHECK(taken.exit_code != 0);
  CHECK_THAT(taken.err, Catch::Contains("is being copied by process " + elsewhere));
  CHECK_THAT(taken.err, Catch::Contains("watches the chunk record"));
  CHECK(chunk_record(capacity, image) == record);
  ConfigCopy impatient("copy_wait_timeout = 1");
  auto waited = run_rbdvol(
      {"--config", impatient.path(), "volume", "create", "--type", "hdd", "--image", id});
  CHECK(waited.exit_code != 0);
  CHECK_THAT(waited.err, Catch::Contains("is being copied by process " + elsewhere));
  CHECK(chunk_record(capacity, image) == record);

  // Continued, the run that claimed it finishes the copy.
  claimer.resume();
  auto finished = claimer.finish();
  INFO(finished.err);
  REQUIRE(finished.exit_code == 0);
  CHECK(capacity.read("images", image) == read_file(file.path()));
  CHECK(run_rbdvol({"image", "verify", id, "--backend", "capacity"}).exit_code == 0);
}

TEST_CASE("image verify finds exactly the chunk changed behind rbdvol's back",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  const std::string id = upload_random_image(24 << 20, "fast", "dp-verify");
  const std::string image = "image-" + id;
  cleanup.add("fast", "images", image);
  cleanup.add("capacity", "images", image);
  rbdvol_json({"image", "copy", id, "--to", "capacity"});

  auto clean = rbdvol_json({"image", "verify", id});
  CHECK(clean.at("ok") == true);
  REQUIRE(clean.at("copies").size() == 2);
  for (const auto& c : clean.at("copies")) {
    CHECK(c.at("mismatches").empty());
    CHECK(c.at("chunks_read") == 6);
  }

  // Verify reads what clones see (snap, or the head while no volume made
  // snap); rot_chunk changes what either reads.
  CephView capacity("capacity");
  rot_chunk(capacity, image, 3);
  auto r = run_rbdvol({"--json", "image", "verify", id});
  CHECK(r.exit_code != 0);
  const auto answer = nlohmann::json::parse(r.out);
  CHECK(answer.at("ok") == false);
  for (const auto& c : answer.at("copies")) {
    INFO(c.dump());
    if (c.at("backend") == "fast") {
      CHECK(c.at("mismatches").empty());
    } else {
      REQUIRE(c.at("mismatches").size() == 1);
      CHECK(c.at("mismatches")[0].at("index") == 3);
      CHECK(c.at("mismatches")[0].at("offset") == 3 * kChunk);
    }
  }
  auto fast_only = run_rbdvol({"image", "verify", id, "--backend", "fast"});
  CHECK(fast_only.exit_code == 0);
  // Not a terminal: plain progress lines, the last one at 100%.
  CHECK(fast_only.err.find("verify " + id + ": 100% 24.0 MiB of 24.0 MiB") != std::string::npos);
}

TEST_CASE("an upload killed half way resumes into the same image with --resume",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  TempFile file(48 << 20);  // random: 12 chunks of data
  CephView fast("fast");
  // The partial image gets the id chosen here (others may upload too).
  const std::string chosen = random_uuid();
  auto killed =
      run_rbdvol_with_faults("image.upload:kill-after-chunk=3,new-id=" + chosen,
                             {"image", "upload", file.path(), "--name", "dp-upload-resume"});
  REQUIRE(killed.exit_code == 128 + SIGKILL);
  const std::string partial = "image-" + chosen;
  REQUIRE(images_of(fast, "images", {chosen}) == std::vector<std::string>{partial});
  cleanup.add("fast", "images", partial);
  const size_t confirmed = chunks_of(chunk_record(fast, partial)).size();
  CHECK(confirmed >= 3);
  CHECK(confirmed < 12);

  // Two runs resume it at once: as with a copy, the one stopped before its
  // claim loses and leaves the image to the other.
  const std::vector<std::string> resume = {
      "--json", "image", "upload", file.path(), "--name", "dp-upload-resume", "--resume"};
  setenv("RBDVOL_FAULT", "image.upload:before-claim=stop", 1);
  BackgroundCommand late(rbdvol_argv(resume));
  unsetenv("RBDVOL_FAULT");
  REQUIRE(late.wait_stopped());
  auto resumed = rbdvol_json(std::vector<std::string>(resume.begin() + 1, resume.end()));
  late.resume();
  auto lost = late.finish();
  CHECK(lost.exit_code != 0);
  CHECK_THAT(lost.err, Catch::Contains("cannot resume the upload of " + file.path()));
  CHECK_THAT(lost.err, Catch::Contains("another process took over images/" + partial));
  CHECK_FALSE(fast.metadata("images", partial, "rbdvol.complete").empty());
  CHECK("image-" + resumed.at("id").get<std::string>() == partial);
  CHECK(resumed.at("resumed") == true);
  CHECK(resumed.at("chunks_skipped_confirmed") == confirmed);
  CHECK(resumed.at("chunks_written") == 12 - confirmed);
  CHECK(fast.read("images", partial) == read_file(file.path()));
  CHECK(run_rbdvol({"image", "verify", resumed.at("id")}).exit_code == 0);
  // Its checksum takes in the digests the killed run recorded.
  CHECK(resumed.at("checksum") == chunk_list_sha256_of(file.path()));
}

TEST_CASE("a copy carries the source's recorded digests, and hashes when the source has none",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  PatternFile raw(48 << 20);  // data in chunks 0, 2 and 11 of 12
  const std::string id = upload_to_fast(raw.path, "dp-carry", cleanup);
  const std::string image = "image-" + id;
  const std::string content = read_file(raw.path);
  CephView fast("fast");
  CephView capacity("capacity");

  SECTION(
      "with the source's record, no chunk is hashed again; verify on the copy checks "
      "its bytes against the upload's digests") {
    // Rot in the source after its upload: the copy moves the bytes as they
    // are, with the digests of what was uploaded.
    rot_chunk(fast, image, 2);
    auto copied = rbdvol_json({"image", "copy", id, "--to", "capacity"});
    const auto& stats = copied.at("copied")[0];
    CHECK(stats.at("chunks_written") == 3);
    CHECK(stats.at("chunks_hashed") == 0);
    const auto source = chunks_of(chunk_record(fast, image));
    const auto copy = chunks_of(chunk_record(capacity, image));
    REQUIRE(copy.size() == 12);
    for (uint64_t index : {0, 2, 11}) {
      INFO("chunk " << index);
      CHECK(copy.at(index).at("sha256") == source.at(index).at("sha256"));
      CHECK(copy.at(index).at("sha256") ==
            sha256_hex(content.data() + index * kChunk,
                       std::min<size_t>(kChunk, content.size() - index * kChunk)));
    }
    const std::string rotten = fast.read("images", image);
    CHECK(rotten != content);
    CHECK(capacity.read("images", image) == rotten);
    auto r = run_rbdvol({"--json", "image", "verify", id, "--backend", "capacity"});
    CHECK(r.exit_code != 0);
    const auto answer = nlohmann::json::parse(r.out);
    REQUIRE(answer.at("copies").size() == 1);
    const auto& mismatches = answer.at("copies")[0].at("mismatches");
    REQUIRE(mismatches.size() == 1);
    CHECK(mismatches[0].at("index") == 2);
  }

  SECTION("without a record on the source, every chunk with data is hashed from its bytes") {
    REQUIRE(rados_remove(fast.pool("images"), ("rbdvol_chunks." + image).c_str()) == 0);
    auto copied = rbdvol_json({"image", "copy", id, "--to", "capacity"});
    const auto& stats = copied.at("copied")[0];
    CHECK(stats.at("chunks_written") == 3);
    CHECK(stats.at("chunks_hashed") == 3);
    const auto copy = chunks_of(chunk_record(capacity, image));
    REQUIRE(copy.size() == 12);
    for (uint64_t index : {0, 2, 11}) {
      INFO("chunk " << index);
      CHECK(copy.at(index).at("sha256") ==
            sha256_hex(content.data() + index * kChunk,
                       std::min<size_t>(kChunk, content.size() - index * kChunk)));
    }
    CHECK(capacity.read("images", image) == content);
    CHECK(run_rbdvol({"image", "verify", id, "--backend", "capacity"}).exit_code == 0);
  }
}

TEST_CASE("image partials lists what dead runs left, which image delete removes, not a live copy",
          "[integration][datapath]") {
  ImageCleanup cleanup;
  TempFile file(16 << 20);  // random: 4 chunks of data
  const std::string id = upload_to_fast(file.path(), "dp-partials", cleanup);
  const std::string image = "image-" + id;
  CephView fast("fast"), capacity("capacity");
  auto partial_of = [](const nlohmann::json& listing, const std::string& uuid) {
    for (const auto& p : listing.at("partials")) {
      if (p.at("id") == uuid) return p;
    }
    return nlohmann::json();
  };

  // A copy stopped half way is being written: listed as running, and the
  // image cannot be deleted while it is; nothing is removed.
  setenv("RBDVOL_FAULT", "image.copy:stop-after-chunk=1", 1);
  BackgroundCommand copy(rbdvol_argv({"image", "copy", id, "--to", "capacity"}));
  unsetenv("RBDVOL_FAULT");
  REQUIRE(copy.wait_stopped());
  auto live = partial_of(rbdvol_json({"image", "partials"}), id);
  REQUIRE_FALSE(live.is_null());
  CHECK(live.at("backend") == "capacity");
  CHECK(live.at("kind") == "copy");
  CHECK(live.at("running") == true);
  CHECK_THAT(live.at("how").get<std::string>(), Catch::Contains("running on this host"));
  auto refused = run_rbdvol({"image", "delete", id});
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.err, Catch::Contains("is being written into backend capacity"));
  CHECK_THAT(refused.err, Catch::Contains("nothing was removed"));
  CHECK(fast.image_exists("images", image));
  CHECK(capacity.image_exists("images", image));

  // Killed, it is what a dead run left: listed as such, with its progress.
  copy.kill();
  auto dead = partial_of(rbdvol_json({"image", "partials", "--backend", "capacity"}), id);
  REQUIRE_FALSE(dead.is_null());
  CHECK(dead.at("running") == false);
  CHECK_THAT(dead.at("how").get<std::string>(), Catch::Contains("no longer running"));
  CHECK(dead.at("chunks") == 4);
  CHECK(dead.at("chunks_confirmed").get<uint64_t>() >= 1);
  CHECK_THAT(dead.at("source").get<std::string>(), Catch::Contains("backend fast images/" + image));
  // Only the backend asked about is searched.
  CHECK(partial_of(rbdvol_json({"image", "partials", "--backend", "fast"}), id).is_null());

  // A delete and a resume at once: the delete, stopped once it found the
  // copy's process gone, loses to the resume, which claimed the copy and
  // finished it; continued, it stops without removing anything.
  setenv("RBDVOL_FAULT", "image.delete:before-claim=stop", 1);
  BackgroundCommand late_delete(rbdvol_argv({"image", "delete", id}));
  unsetenv("RBDVOL_FAULT");
  REQUIRE(late_delete.wait_stopped());
  auto resumed = rbdvol_json({"image", "copy", id, "--to", "capacity", "--resume"});
  CHECK(resumed.at("copied").size() == 1);
  late_delete.resume();
  auto lost = late_delete.finish();
  CHECK(lost.exit_code != 0);
  CHECK_THAT(lost.err, Catch::Contains("another process took over images/" + image));
  CHECK_THAT(lost.err, Catch::Contains("nothing was removed"));
  CHECK(fast.read("images", image) == read_file(file.path()));
  CHECK(capacity.read("images", image) == read_file(file.path()));
  CHECK_FALSE(capacity.metadata("images", image, "rbdvol.complete").empty());

  // Its complete copy in capacity deleted, a copy killed half way leaves
  // another dead partial copy there.
  rbdvol_json({"image", "delete", id, "--backend", "capacity"});
  setenv("RBDVOL_FAULT", "image.copy:kill-after-chunk=1", 1);
  REQUIRE(run_rbdvol({"image", "copy", id, "--to", "capacity"}).exit_code == 128 + SIGKILL);
  unsetenv("RBDVOL_FAULT");
  REQUIRE(partial_of(rbdvol_json({"image", "partials"}), id).at("running") == false);

  // An upload killed half way has no complete copy anywhere: it is found
  // only by its id, which the listing gives.
  TempFile other(16 << 20);
  setenv("RBDVOL_FAULT", "image.upload:kill-after-chunk=1", 1);
  auto killed = run_rbdvol({"image", "upload", other.path(), "--name", "dp-partials-upload"});
  unsetenv("RBDVOL_FAULT");
  REQUIRE(killed.exit_code == 128 + SIGKILL);
  std::string upload_id;
  const auto listing = rbdvol_json({"image", "partials"});
  for (const auto& p : listing.at("partials")) {
    if (p.at("kind") == "upload" &&
        p.at("source").get<std::string>().find(other.path()) != std::string::npos) {
      upload_id = p.at("id");
      CHECK(p.at("backend") == "fast");
      CHECK(p.at("running") == false);
    }
  }
  REQUIRE_FALSE(upload_id.empty());
  cleanup.add("fast", "images", "image-" + upload_id);

  // Deleting the image removes its complete copy and the dead copy's partial
  // image, chunk record included.
  auto deleted = rbdvol_json({"image", "delete", id});
  CHECK(deleted.at("deleted_from") == nlohmann::json::array({"fast"}));
  CHECK(deleted.at("partials_removed") == nlohmann::json::array({"capacity"}));
  CHECK_FALSE(fast.image_exists("images", image));
  CHECK_FALSE(capacity.image_exists("images", image));
  CHECK_FALSE(capacity.object_exists("images", "rbdvol_chunks." + image));

  // The partial upload goes by its id alone; then the id names nothing.
  auto gone = rbdvol_json({"image", "delete", upload_id});
  CHECK(gone.at("deleted_from").empty());
  CHECK(gone.at("partials_removed") == nlohmann::json::array({"fast"}));
  CHECK_FALSE(fast.image_exists("images", "image-" + upload_id));
  CHECK_FALSE(fast.object_exists("images", "rbdvol_chunks.image-" + upload_id));
  auto again = run_rbdvol({"image", "delete", upload_id});
  CHECK(again.exit_code != 0);
  CHECK_THAT(again.err, Catch::Contains("not found in any backend"));
  CHECK(partial_of(rbdvol_json({"image", "partials"}), upload_id).is_null());
}
