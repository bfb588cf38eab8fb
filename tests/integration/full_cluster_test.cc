// A full pool and a cluster that stops answering in the middle of an
// operation: errors that say so, at once or within rados_osd_op_timeout, and
// a partial image that can still be deleted from a full pool.
#include <catch2/catch.hpp>

#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "tests/integration/sandbox.h"

using namespace rbdvol::test;

namespace {

const std::string kPool = "rbdvol-full-test";

std::string fast_conf() { return std::getenv("RBDVOL_CEPH_CONF_FAST"); }

CommandResult ceph_command(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"ceph", "-c", fast_conf()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv);
}

// The sandbox's config with a short OSD op timeout and, with `in_pool`,
// fast's images in kPool, in a file removed when the object goes.
class ShortTimeoutConfig {
 public:
  explicit ShortTimeoutConfig(bool in_pool) {
    std::string text = read_file(std::getenv("RBDVOL_CONFIG"));
    const auto images = text.find("image_pool = images\n");  // fast's section comes first
    REQUIRE(images != std::string::npos);
    if (in_pool) text.replace(images, 19, "image_pool = " + kPool);
    text.insert(text.find("[DEFAULT]\n") + 10, "rados_osd_op_timeout = 3\n");
    path_ = "/tmp/rbdvol-full-test-" + std::to_string(::getpid()) + ".conf";
    std::ofstream(path_) << text;
  }
  ~ShortTimeoutConfig() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void set_quota(uint64_t bytes) {
  auto r = ceph_command({"osd", "pool", "set-quota", kPool, "max_bytes", std::to_string(bytes)});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

bool pool_marked_full() {
  auto r = ceph_command({"osd", "dump", "--format", "json"});
  if (r.exit_code != 0) return false;
  const auto dump = nlohmann::json::parse(r.out);
  for (const auto& p : dump.at("pools")) {
    if (p.at("pool_name") == kPool) {
      return p.at("flags_names").get<std::string>().find("full") != std::string::npos;
    }
  }
  return false;
}

// Sets the quota back to none however the test ends.
struct QuotaReset {
  ~QuotaReset() { ceph_command({"osd", "pool", "set-quota", kPool, "max_bytes", "0"}); }
};

}  // namespace

TEST_CASE("a full pool refuses an upload at once and still lets a partial image be deleted",
          "[integration][full]") {
  if (ceph_command({"osd", "pool", "ls"}).out.find(kPool) == std::string::npos) {
    REQUIRE(ceph_command({"osd", "pool", "create", kPool, "8"}).exit_code == 0);
    REQUIRE(run({"rbd", "-c", fast_conf(), "pool", "init", kPool}).exit_code == 0);
  }
  QuotaReset reset;
  set_quota(0);
  // What an earlier, failed run left goes first (rbdvol's chunk records too).
  run({"sh", "-c",
       "for i in $(rbd -c \"$1\" ls \"$2\"); do rbd -c \"$1\" rm --no-progress \"$2/$i\"; "
       "done; for o in $(rados -c \"$1\" -p \"$2\" ls | grep ^rbdvol_chunks); do "
       "rados -c \"$1\" -p \"$2\" rm \"$o\"; done",
       "sh", fast_conf(), kPool});
  set_quota(64 << 20);
  ShortTimeoutConfig config(true);
  auto rbdvol = [&](std::vector<std::string> args) {
    args.insert(args.begin(), {"--config", config.path()});
    return run_rbdvol(args);
  };

  // More than the quota: refused before anything is written.
  TempFile big(96 << 20);
  auto refused = rbdvol({"image", "upload", big.path(), "--name", "too-big", "--backend", "fast"});
  CHECK(refused.exit_code != 0);
  CHECK_THAT(refused.err, Catch::Contains("the upload of " + big.path() +
                                          " into backend fast needs 96.0 MiB but pool " + kPool +
                                          " can take only"));
  CHECK(run({"rbd", "-c", fast_conf(), "ls", kPool}).out.empty());

  // A partial upload, then the quota lowered under what it holds: the pool
  // is marked full once the monitors see the OSDs' stats.
  // (A large quota first: the pool's stats, which the space check reads,
  // lag a few seconds behind deletes.)
  set_quota(1ULL << 30);
  TempFile file(24 << 20);
  setenv("RBDVOL_FAULT", "image.upload:kill-after-chunk=3", 1);
  auto killed = rbdvol({"image", "upload", file.path(), "--name", "partial", "--backend", "fast"});
  unsetenv("RBDVOL_FAULT");
  INFO(killed.err);
  REQUIRE(killed.exit_code == 128 + SIGKILL);
  std::string partial;
  auto listed = rbdvol({"--json", "image", "partials"});
  INFO(listed.out << listed.err);
  const auto partials = nlohmann::json::parse(listed.out);
  for (const auto& p : partials.at("partials")) {
    if (p.at("pool") == kPool) partial = p.at("id").get<std::string>();
  }
  REQUIRE_FALSE(partial.empty());
  set_quota(4 << 20);
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (!pool_marked_full() && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
  REQUIRE(pool_marked_full());

  // Any write now fails at once, naming the full pool, instead of waiting.
  TempFile small(1 << 20);
  const auto started = std::chrono::steady_clock::now();
  auto full = rbdvol({"image", "upload", small.path(), "--name", "small", "--backend", "fast"});
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));
  CHECK(full.exit_code != 0);
  CHECK_THAT(full.err,
             Catch::Contains("pool " + kPool + " is full (its quota of 4.0 MiB is reached)"));

  // The partial image is deleted all the same.
  auto deleted = rbdvol({"image", "delete", partial, "--backend", "fast"});
  INFO(deleted.err);
  CHECK(deleted.exit_code == 0);
  CHECK(run({"rbd", "-c", fast_conf(), "ls", kPool}).out.empty());
}

TEST_CASE(
    "an operation whose cluster stops answering after it connected fails within the OSD "
    "op timeout",
    "[integration][full]") {
  ShortTimeoutConfig config(false);  // rados_osd_op_timeout = 3
  ImageCleanup cleanup;
  TempFile file(8 << 20);
  cleanup.add_file(file.path());
  // The upload stops once its data is written; the cluster is paused; the
  // upload goes on and must fail on its next OSD operation, not hang.
  setenv("RBDVOL_FAULT", "image.upload:before-complete=stop", 1);
  BackgroundCommand upload(rbdvol_argv(
      {"--config", config.path(), "image", "upload", file.path(), "--name", "stalled"}));
  unsetenv("RBDVOL_FAULT");
  REQUIRE(upload.wait_stopped());
  {
    PausedCluster paused("fast");  // resumed however the block ends
    const auto started = std::chrono::steady_clock::now();
    upload.resume();
    auto failed = upload.finish();
    const auto took = std::chrono::steady_clock::now() - started;
    CHECK(failed.exit_code == 6);  // unreachable
    CHECK_THAT(failed.err, Catch::Contains("Connection timed out"));
    CHECK(took < std::chrono::seconds(30));
  }
  // Once the cluster answers again, the partial upload is found and removed.
  auto partials = nlohmann::json::parse(
      run_rbdvol({"--config", config.path(), "--json", "image", "partials"}).out);
  for (const auto& p : partials.at("partials")) {
    run_rbdvol({"--config", config.path(), "image", "delete", p.at("id"), "--backend", "fast"});
  }
}
