// Whose exclusive lock a take-over breaks: only the dead writer's, the client
// a partial image's chunk record names, never a live writer that took the
// image over between the finding that the writer is dead and the break.
#include <catch2/catch.hpp>

#include "plugin/ceph/rbd_image.h"
#include "plugin/records/naming.h"
#include "plugin/transfer/chunk_record.h"
#include "tests/unit/plugin_test_env.h"

namespace rbdvol::plugin::testing {

namespace {

// Another process's client of `backend`'s cluster that opens image `rbd` of
// its image pool and takes its lock: a live writer, for as long as it lives.
struct LiveWriter {
  LiveWriter(PluginTest& t, const std::string& backend, const std::string& rbd) {
    auto c = t.env.connect(t.driver->cluster(backend)->backend(), ConnectOptions{});
    REQUIRE(c.ok());
    connection = std::move(c).value();
    auto p = connection->open_pool("images");
    REQUIRE(p.ok());
    pool = std::move(p).value();
    client = pool->client_name();
    auto i = pool->open_image(rbd, "", false);
    REQUIRE(i.ok());
    image = std::move(i).value();
    REQUIRE(image->lock_acquire().ok());
  }
  std::unique_ptr<Connection> connection;
  std::unique_ptr<Pool> pool;  // before the connection goes
  std::unique_ptr<RbdImage> image;
  std::string client;
};

PoolPtr image_pool(PluginTest& t, const std::string& backend) {
  auto io = t.driver->cluster(backend)->open_image_pool();
  REQUIRE(io.ok());
  return std::move(io).value();
}

ChunkRecordHeader record_of(PluginTest& t, const std::string& backend, const std::string& id) {
  auto header = read_chunk_record_header(*image_pool(t, backend), kImagePrefix + id);
  REQUIRE(header.ok());
  REQUIRE(header->has_value());
  return **header;
}

}  // namespace

TEST_CASE("break_dead_writer_lock breaks the lock of the client the record names",
          "[plugin][lock]") {
  PluginTest t;
  const std::string id = t.image("fast", 4 << 20);
  const std::string rbd = kImagePrefix + id;
  t.make_dead_partial("fast", id);
  const std::string dead = record_of(t, "fast", id).client;
  REQUIRE(t.env.lock_holder(kFast, "images", rbd) == dead);

  auto io = image_pool(t, "fast");
  Status s = break_dead_writer_lock(*io, rbd, {dead});
  INFO(s.message());
  CHECK(s.ok());
  CHECK(t.env.lock_holder(kFast, "images", rbd).empty());
  CHECK(t.env.blocklisted(kFast, dead));

  SECTION("no lock left to break is success") {
    CHECK(break_dead_writer_lock(*io, rbd, {dead}).ok());
  }
  SECTION("an image that is gone is ENOENT") {
    CHECK(break_dead_writer_lock(*io, kImagePrefix + "nothing", {dead}).err() == ENOENT);
  }
}

TEST_CASE("break_dead_writer_lock leaves a live writer's lock, naming it", "[plugin][lock]") {
  PluginTest t;
  const std::string id = t.image("fast", 4 << 20);
  const std::string rbd = kImagePrefix + id;
  t.make_dead_partial("fast", id);
  const std::string dead = record_of(t, "fast", id).client;
  // A new writer took the image over after the dead one was found dead.
  LiveWriter live(t, "fast", rbd);
  REQUIRE(t.env.lock_holder(kFast, "images", rbd) == live.client);

  auto io = image_pool(t, "fast");
  Status s = break_dead_writer_lock(*io, rbd, {dead});
  CHECK(s.err() == EBUSY);
  CHECK(s.message().find("image images/" + rbd + " is being written by " + live.client + " (") !=
        std::string::npos);
  CHECK(s.message().find("not breaking its lock") != std::string::npos);
  CHECK(t.env.lock_holder(kFast, "images", rbd) == live.client);
  CHECK_FALSE(t.env.blocklisted(kFast, live.client));
  // The live writer still writes.
  ceph::bufferlist bytes;
  bytes.append(std::string(4096, 'w'));
  ssize_t wrote = 0;
  live.image->aio_write(0, &bytes, [&](ssize_t r) { wrote = r; });
  CHECK(wrote == 4096);
}

TEST_CASE("a resumed upload takes the dead run's partial upload over and records its client",
          "[plugin][lock][image]") {
  PluginTest t;
  const std::string path = t.file(5 << 20);
  const std::string id = t.ok(image_upload, {{"path", path}, {"name", "x"}})["id"];
  const std::string rbd = kImagePrefix + id;
  t.make_dead_partial("fast", id);
  const std::string dead = record_of(t, "fast", id).client;

  Json resumed = t.ok(image_upload, {{"path", path}, {"name", "x"}, {"resume", true}});
  CHECK(resumed["resumed"] == true);
  const ChunkRecordHeader after = record_of(t, "fast", id);
  CHECK(after.client == image_pool(t, "fast")->client_name());
  CHECK(after.previous_clients == std::vector<std::string>{dead});
  CHECK(recorded_writer_clients(after) == std::vector<std::string>{dead, after.client});
  CHECK(t.env.blocklisted(kFast, dead));
  CHECK(t.env.lock_holder(kFast, "images", rbd).empty());  // released when done
}

TEST_CASE("a take-over never breaks the lock of a live writer that took the image over first",
          "[plugin][lock][image]") {
  for (const std::string backend : {"fast", "capacity"}) {
    DYNAMIC_SECTION("the partial image in " << backend) {
      PluginTest t;
      const std::string path = t.file(5 << 20);
      const std::string id = t.ok(image_upload, {{"path", path}, {"name", "x"}})["id"];
      const std::string rbd = kImagePrefix + id;
      t.ok(image_copy, {{"id", id}, {"to", "capacity"}});
      const std::string conf = backend == "fast" ? kFast : kCapacity;
      // Found dead (its process is gone), then taken over by a live writer
      // before the take-over below breaks the lock.
      t.make_dead_partial(backend, id);
      LiveWriter live(t, backend, rbd);

      auto left_alone = [&] {
        CHECK(t.env.lock_holder(conf, "images", rbd) == live.client);
        CHECK_FALSE(t.env.blocklisted(conf, live.client));
        CHECK(t.images(conf, "images") == std::vector<std::string>{rbd});
      };
      auto refused = [&](const Result<Json>& r) {
        INFO((r.ok() ? r->dump() : r.status().message()));
        REQUIRE_FALSE(r.ok());
        CHECK(r.status().err() == EBUSY);
        CHECK(r.status().message().find("is being written by " + live.client) != std::string::npos);
        left_alone();
      };
      SECTION("resume") {
        refused(backend == "fast"
                    ? t.run(image_upload, {{"path", path}, {"name", "x"}, {"resume", true}})
                    : t.run(image_copy, {{"id", id}, {"to", "capacity"}, {"resume", true}}));
      }
      SECTION("image.delete of the partial image") {
        refused(t.run(image_delete, {{"id", id}, {"backend", backend}}));
      }
      SECTION("backend.check's repair of the dead partial image") {
        Json check = t.ok(backend_check, {{"min_age", 0}, {"repair", true}, {"backend", backend}});
        bool found = false;
        for (const auto& f : check["findings"]) {
          if (f["kind"] != "dead_partial_image") continue;
          found = true;
          CHECK(f["repaired"] == false);
          CHECK(f.value("left", "").find("is being written by " + live.client) !=
                std::string::npos);
        }
        CHECK(found);
        left_alone();
      }
    }
  }
}

}  // namespace rbdvol::plugin::testing
