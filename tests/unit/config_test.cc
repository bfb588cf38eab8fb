// Unit tests of the INI config parser: every check has a test that the error
// is EINVAL and names the file, the line and the key.
#include <grp.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "config/config.h"

namespace {

using Catch::Matchers::Contains;
using rbdvol::config::Backend;
using rbdvol::config::Config;
using rbdvol::config::DiskType;
using rbdvol::config::load_config_file;
using rbdvol::config::parse_config;

const char kPath[] = "/etc/rbdvol/test.conf";

// Two backends and nothing optional; variants are made from it with `with`.
const std::string kMinimal = R"([DEFAULT]
enabled_backends = fast, capacity
default_backend = fast

[fast]
ceph_conf = /etc/ceph/fast.conf
volume_pool = volumes
image_pool = images
tags = media:ssd, purpose:general

[capacity]
ceph_conf = /etc/ceph/capacity.conf
volume_pool = volumes
image_pool = images
tags = media:hdd, purpose:archive
)";

// `text` with the first `from` replaced by `to`; `from` must be there.
std::string with(const std::string& text, const std::string& from, const std::string& to) {
  size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.substr(0, at) + to + text.substr(at + from.size());
}

// 1-based number of the line holding the first `needle` in `text`.
int line_of(const std::string& text, const std::string& needle) {
  size_t at = text.find(needle);
  REQUIRE(at != std::string::npos);
  int line = 1;
  for (size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') ++line;
  }
  return line;
}

// The error is EINVAL and its message names the file, the line and the key.
std::string require_error(const rbdvol::Result<Config>& result, int line, const std::string& key) {
  REQUIRE_FALSE(result.ok());
  const std::string& message = result.status().message();
  INFO("message: " << message);
  CHECK(result.status().err() == EINVAL);
  CHECK_THAT(message, Contains(std::string(kPath) + ":" + std::to_string(line) + ": "));
  CHECK_THAT(message, Contains(key));
  return message;
}

// A disk type section after the minimal config.
std::string with_disk_type(const std::string& body) {
  return kMinimal + "\n[disk_type:t]\n" + body;
}

}  // namespace

TEST_CASE("a full valid config loads with every field right and defaults applied", "[config]") {
  const std::string text = R"(# rbdvol test configuration
[DEFAULT]
enabled_backends = fast, capacity
default_backend = fast
rados_connect_timeout = 10

[fast]
ceph_conf = /etc/ceph/fast.conf
rbd_user = admin
keyring = /etc/ceph/fast.client.admin.keyring
volume_pool = volumes
image_pool = images
tags = media:ssd, purpose:general
weight = 2
libvirt_secret_uuid = 5f0c3a56-1b2c-4d5e-8f90-a1b2c3d4e5f6

[capacity]
ceph_conf = /etc/ceph/capacity.conf
volume_pool = cap-volumes
image_pool = cap.images
tags = media:hdd, purpose:archive
weight = 1

[disk_type:ssd]
tags = media:ssd
image_store = same

[disk_type:shared]
tags = media:ssd
multiattach = true
cache = none

[disk_type:archive]
tags = purpose:archive
cache = writeback
image_store = fast
)";
  auto result = parse_config(text, kPath);
  INFO(result.status().message());
  REQUIRE(result.ok());
  const Config& c = *result;
  CHECK(c.path == kPath);
  CHECK(c.default_backend == "fast");
  CHECK(c.rados_connect_timeout == 10);
  CHECK(c.max_clone_depth == 5);
  CHECK(c.copy_wait_timeout == 60);

  REQUIRE(c.backends.size() == 2);
  const Backend& fast = c.backends[0];
  CHECK(fast.id == "fast");
  CHECK(fast.line == line_of(text, "[fast]"));
  CHECK(fast.ceph_conf == "/etc/ceph/fast.conf");
  CHECK(fast.rbd_user == "admin");
  CHECK(fast.keyring == "/etc/ceph/fast.client.admin.keyring");
  CHECK(fast.volume_pool == "volumes");
  CHECK(fast.image_pool == "images");
  CHECK(fast.tags == std::vector<std::string>{"media:ssd", "purpose:general"});
  CHECK(fast.weight == 2.0);
  CHECK(fast.libvirt_secret_uuid == "5f0c3a56-1b2c-4d5e-8f90-a1b2c3d4e5f6");

  const Backend& capacity = c.backends[1];
  CHECK(capacity.id == "capacity");
  CHECK(capacity.line == line_of(text, "[capacity]"));
  CHECK(capacity.ceph_conf == "/etc/ceph/capacity.conf");
  CHECK(capacity.rbd_user == "admin");
  CHECK(capacity.keyring.empty());
  CHECK(capacity.volume_pool == "cap-volumes");
  CHECK(capacity.image_pool == "cap.images");
  CHECK(capacity.tags == std::vector<std::string>{"media:hdd", "purpose:archive"});
  CHECK(capacity.weight == 1.0);
  CHECK(capacity.libvirt_secret_uuid.empty());

  REQUIRE(c.disk_types.size() == 3);
  const DiskType& ssd = c.disk_types[0];
  CHECK(ssd.name == "ssd");
  CHECK(ssd.line == line_of(text, "[disk_type:ssd]"));
  CHECK(ssd.tags == std::vector<std::string>{"media:ssd"});
  CHECK_FALSE(ssd.multiattach);
  CHECK(ssd.cache == "none");
  CHECK(ssd.image_store == "same");

  const DiskType& shared = c.disk_types[1];
  CHECK(shared.name == "shared");
  CHECK(shared.multiattach);
  CHECK(shared.cache == "none");
  CHECK(shared.image_store == "same");

  const DiskType& archive = c.disk_types[2];
  CHECK(archive.name == "archive");
  CHECK_FALSE(archive.multiattach);
  CHECK(archive.cache == "writeback");
  CHECK(archive.image_store == "fast");

  CHECK(c.find_backend("capacity") == &c.backends[1]);
  CHECK(c.find_backend("slow") == nullptr);
  CHECK(c.find_disk_type("shared") == &c.disk_types[1]);
  CHECK(c.find_disk_type("fast") == nullptr);
}

TEST_CASE("a minimal config gets every default", "[config]") {
  auto result = parse_config(kMinimal, kPath);
  INFO(result.status().message());
  REQUIRE(result.ok());
  CHECK(result->rados_connect_timeout == 10);
  CHECK(result->max_clone_depth == 5);
  CHECK(result->copy_wait_timeout == 60);
  CHECK(result->disk_types.empty());
  for (const auto& b : result->backends) {
    CHECK(b.rbd_user == "admin");
    CHECK(b.keyring.empty());
    CHECK(b.weight == 1.0);
    CHECK(b.libvirt_secret_uuid.empty());
  }
}

TEST_CASE("white space, comments, blank lines and CRLF line ends are accepted", "[config]") {
  const std::string text =
      "; a comment\r\n"
      "  # an indented comment\r\n"
      "\r\n"
      "  [ DEFAULT ]  \r\n"
      "\tenabled_backends=  fast ,capacity\t\r\n"
      "default_backend =fast\r\n"
      "max_clone_depth = 7\r\n"
      "[fast]\r\n"
      "ceph_conf = /etc/ceph/fast.conf\r\n"
      "volume_pool = volumes\r\n"
      "image_pool = images\r\n"
      "tags =media:ssd ,  purpose:general\r\n"
      "weight = 0.5\r\n"
      "[capacity]\r\n"
      "ceph_conf = /etc/ceph/capacity.conf\r\n"
      "volume_pool = volumes\r\n"
      "image_pool = images";  // no final line end
  auto result = parse_config(text, kPath);
  INFO(result.status().message());
  REQUIRE(result.ok());
  CHECK(result->max_clone_depth == 7);
  REQUIRE(result->backends.size() == 2);
  CHECK(result->backends[0].tags == std::vector<std::string>{"media:ssd", "purpose:general"});
  CHECK(result->backends[0].weight == 0.5);
  CHECK(result->backends[1].image_pool == "images");
  CHECK(result->backends[1].tags.empty());
}

TEST_CASE("a value is literal: a '#' after it is not a comment", "[config]") {
  const std::string text =
      with(kMinimal, "tags = media:hdd, purpose:archive", "weight = 2 # heavier");
  auto message = require_error(parse_config(text, kPath), line_of(text, "weight"), "weight");
  CHECK_THAT(message, Contains("'2 # heavier'"));
}

TEST_CASE("a line that is not a section, key, comment or blank names file and line", "[config]") {
  SECTION("a word alone") {
    const std::string text = with(kMinimal, "image_pool = images\n", "image_pool = images\noops\n");
    auto message = require_error(parse_config(text, kPath), line_of(text, "oops"), "'oops'");
  }
  SECTION("a section header without its ']'") {
    const std::string text = with(kMinimal, "[capacity]", "[capacity");
    require_error(parse_config(text, kPath), line_of(text, "[capacity"), "[capacity");
  }
  SECTION("a section header with a comment after it") {
    const std::string text = with(kMinimal, "[capacity]", "[capacity] # slow");
    require_error(parse_config(text, kPath), line_of(text, "[capacity]"), "[capacity]");
  }
  SECTION("an empty section name") {
    const std::string text = kMinimal + "[ ]\n";
    require_error(parse_config(text, kPath), line_of(text, "[ ]"), "empty section name");
  }
  SECTION("an '=' with no key") {
    const std::string text = kMinimal + "= value\n";
    require_error(parse_config(text, kPath), line_of(text, "= value"), "no key");
  }
  SECTION("a control character") {
    const std::string text = kMinimal + "weight = 1\x01\n";
    require_error(parse_config(text, kPath), line_of(text, "weight"), "control character");
  }
}

TEST_CASE("a key before any section is an error naming file, line and key", "[config]") {
  const std::string text = "# header\nenabled_backends = fast\n" + kMinimal;
  require_error(parse_config(text, kPath), 2, "enabled_backends");
}

TEST_CASE("a section or key given twice is an error naming both lines", "[config]") {
  SECTION("a section") {
    const std::string text = kMinimal + "\n[fast]\nweight = 3\n";
    int second = line_of(text, "weight = 3") - 1;
    auto message = require_error(parse_config(text, kPath), second, "[fast]");
    CHECK_THAT(message, Contains("line " + std::to_string(line_of(text, "[fast]"))));
  }
  SECTION("a key") {
    const std::string text =
        with(kMinimal, "image_pool = images\n", "image_pool = images\nvolume_pool = v2\n");
    auto message =
        require_error(parse_config(text, kPath), line_of(text, "volume_pool = v2"), "volume_pool");
    CHECK_THAT(message, Contains("[fast] volume_pool"));
    CHECK_THAT(message, Contains("line " + std::to_string(line_of(text, "volume_pool"))));
  }
}

TEST_CASE("a file without a [DEFAULT] section is an error naming the file", "[config]") {
  SECTION("an empty file") {
    auto result = parse_config("", kPath);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().err() == EINVAL);
    CHECK_THAT(result.status().message(), Contains(kPath));
    CHECK_THAT(result.status().message(), Contains("[DEFAULT]"));
  }
  SECTION("a lower-case [default]") {
    const std::string text = with(kMinimal, "[DEFAULT]", "[default]");
    auto result = parse_config(text, kPath);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().err() == EINVAL);
    CHECK_THAT(result.status().message(), Contains(kPath));
    CHECK_THAT(result.status().message(), Contains("[DEFAULT]"));
  }
}

TEST_CASE("an unknown section names file and line and the enabled backends", "[config]") {
  SECTION("a backend that is not enabled") {
    const std::string text = kMinimal + "\n[slow]\nceph_conf = /etc/ceph/slow.conf\n";
    auto message = require_error(parse_config(text, kPath), line_of(text, "[slow]"), "[slow]");
    CHECK_THAT(message, Contains("fast, capacity"));
  }
  SECTION("a misspelt disk type prefix") {
    const std::string text = kMinimal + "\n[disktype:ssd]\ntags = media:ssd\n";
    auto message =
        require_error(parse_config(text, kPath), line_of(text, "[disktype:ssd]"), "disktype:ssd");
    CHECK_THAT(message, Contains("fast, capacity"));
  }
}

TEST_CASE("an unknown key names file, line and key and lists the allowed keys", "[config]") {
  SECTION("in [DEFAULT]") {
    const std::string text =
        with(kMinimal, "default_backend = fast", "default_backend = fast\nrados_timeout = 3");
    auto message =
        require_error(parse_config(text, kPath), line_of(text, "rados_timeout"), "rados_timeout");
    CHECK_THAT(message, Contains("[DEFAULT] rados_timeout"));
    CHECK_THAT(message, Contains("rados_connect_timeout"));
    CHECK_THAT(message, Contains("max_clone_depth"));
    CHECK_THAT(message, Contains("copy_wait_timeout"));
  }
  SECTION("in a backend") {
    const std::string text = with(kMinimal, "volume_pool = volumes", "volume_pol = volumes");
    auto message =
        require_error(parse_config(text, kPath), line_of(text, "volume_pol"), "volume_pol");
    CHECK_THAT(message, Contains("[fast] volume_pol"));
    CHECK_THAT(message, Contains("libvirt_secret_uuid"));
  }
  SECTION("of two unknown keys, the first in the file is named") {
    const std::string text =
        with(kMinimal, "volume_pool = volumes", "volume_pool = volumes\nzeta = 1\nalpha = 2");
    auto message = require_error(parse_config(text, kPath), line_of(text, "zeta"), "[fast] zeta");
  }
  SECTION("a key in upper case") {
    const std::string text = with(kMinimal, "volume_pool = volumes", "Volume_Pool = volumes");
    require_error(parse_config(text, kPath), line_of(text, "Volume_Pool"), "Volume_Pool");
  }
  SECTION("in a disk type") {
    const std::string text = with_disk_type("tags = media:ssd\nshareable = true\n");
    auto message =
        require_error(parse_config(text, kPath), line_of(text, "shareable"), "shareable");
    CHECK_THAT(message, Contains("[disk_type:t] shareable"));
    CHECK_THAT(message, Contains("multiattach"));
  }
}

TEST_CASE("a backend in enabled_backends without a section names the backend", "[config]") {
  const std::string text = with(kMinimal, "fast, capacity", "fast, capacity, slow");
  auto message = require_error(parse_config(text, kPath), line_of(text, "enabled_backends"),
                               "[DEFAULT] enabled_backends");
  CHECK_THAT(message, Contains("'slow'"));
}

TEST_CASE("default_backend must be one of enabled_backends", "[config]") {
  SECTION("not enabled") {
    const std::string text = with(kMinimal, "default_backend = fast", "default_backend = slow");
    auto message = require_error(parse_config(text, kPath), line_of(text, "default_backend"),
                                 "[DEFAULT] default_backend");
    CHECK_THAT(message, Contains("'slow'"));
  }
  SECTION("missing") {
    const std::string text = with(kMinimal, "default_backend = fast\n", "");
    auto message = require_error(parse_config(text, kPath), line_of(text, "[DEFAULT]"),
                                 "[DEFAULT] default_backend: missing (required)");
  }
}

TEST_CASE("enabled_backends that is empty or missing is an error", "[config]") {
  SECTION("an empty value") {
    const std::string text =
        with(kMinimal, "enabled_backends = fast, capacity", "enabled_backends =");
    auto message = require_error(parse_config(text, kPath), line_of(text, "enabled_backends"),
                                 "[DEFAULT] enabled_backends");
    CHECK_THAT(message, Contains("at least one"));
  }
  SECTION("missing") {
    const std::string text = with(kMinimal, "enabled_backends = fast, capacity\n", "");
    require_error(parse_config(text, kPath), line_of(text, "[DEFAULT]"),
                  "[DEFAULT] enabled_backends: missing (required)");
  }
}

TEST_CASE("a missing required backend key names the section header's line", "[config]") {
  for (const std::string key : {"ceph_conf", "volume_pool", "image_pool"}) {
    DYNAMIC_SECTION("missing " << key) {
      std::string text = kMinimal;
      size_t at = text.find(key, text.find("[capacity]"));
      REQUIRE(at != std::string::npos);
      text.erase(at, text.find('\n', at) - at + 1);
      require_error(parse_config(text, kPath), line_of(text, "[capacity]"),
                    "[capacity] " + key + ": missing (required)");
    }
  }
}

TEST_CASE("a weight that is not a positive number names file, line and key", "[config]") {
  for (const std::string bad :
       {"0", "-1", "abc", "2x", "nan", "inf", "-inf", "0x10", "1e999", "", "1,5"}) {
    DYNAMIC_SECTION("weight = '" << bad << "'") {
      const std::string text =
          with(kMinimal, "image_pool = images\n", "image_pool = images\nweight = " + bad + "\n");
      require_error(parse_config(text, kPath), line_of(text, "weight"), "[fast] weight");
    }
  }
  SECTION("good weights are accepted") {
    for (const std::string good : {"1", "0.25", "3e2", "100"}) {
      const std::string text =
          with(kMinimal, "image_pool = images\n", "image_pool = images\nweight = " + good + "\n");
      auto result = parse_config(text, kPath);
      INFO(good << ": " << result.status().message());
      REQUIRE(result.ok());
      CHECK(result->backends[0].weight == std::stod(good));
    }
  }
}

TEST_CASE("a timeout or clone depth that is not a positive integer names file, line and key",
          "[config]") {
  for (const std::string key : {"rados_connect_timeout", "max_clone_depth", "copy_wait_timeout"}) {
    for (const std::string bad : {"0", "-3", "1.5", "x", "+4", "99999999999", "5s"}) {
      DYNAMIC_SECTION(key << " = '" << bad << "'") {
        const std::string text = with(kMinimal, "default_backend = fast",
                                      "default_backend = fast\n" + key + " = " + bad);
        require_error(parse_config(text, kPath), line_of(text, key), "[DEFAULT] " + key);
      }
    }
  }
  SECTION("good values are taken") {
    const std::string text = with(kMinimal, "default_backend = fast",
                                  "default_backend = fast\nrados_connect_timeout = 30\n"
                                  "max_clone_depth = 16\ncopy_wait_timeout = 600");
    auto result = parse_config(text, kPath);
    REQUIRE(result.ok());
    CHECK(result->rados_connect_timeout == 30);
    CHECK(result->max_clone_depth == 16);
    CHECK(result->copy_wait_timeout == 600);
  }
}

TEST_CASE("a disk type whose tags match no enabled backend names its tags and the backends'",
          "[config]") {
  SECTION("a tag no backend has") {
    const std::string text = with_disk_type("tags = media:nvme\n");
    auto message =
        require_error(parse_config(text, kPath), line_of(text, "media:nvme"), "[disk_type:t] tags");
    CHECK_THAT(message, Contains("media:nvme"));
    CHECK_THAT(message, Contains("fast has media:ssd, purpose:general"));
    CHECK_THAT(message, Contains("capacity has media:hdd, purpose:archive"));
  }
  SECTION("tags that two backends have between them but neither alone") {
    const std::string text = with_disk_type("tags = media:ssd, purpose:archive\n");
    require_error(parse_config(text, kPath), line_of(text, "media:ssd, purpose:archive"),
                  "[disk_type:t] tags");
  }
  SECTION("missing tags") {
    const std::string text = with_disk_type("cache = none\n");
    require_error(parse_config(text, kPath), line_of(text, "[disk_type:t]"),
                  "[disk_type:t] tags: missing (required)");
  }
}

TEST_CASE("a multiattach disk type allows only cache none or directsync", "[config]") {
  for (const std::string bad : {"writeback", "writethrough", "unsafe"}) {
    DYNAMIC_SECTION("cache = " << bad) {
      const std::string text =
          with_disk_type("tags = media:ssd\ncache = " + bad + "\nmultiattach = yes\n");
      auto message =
          require_error(parse_config(text, kPath), line_of(text, "cache"), "[disk_type:t] cache");
      CHECK_THAT(message, Contains("multiattach"));
    }
  }
  for (const std::string good : {"none", "directsync"}) {
    DYNAMIC_SECTION("cache = " << good) {
      const std::string text =
          with_disk_type("tags = media:ssd\nmultiattach = true\ncache = " + good + "\n");
      auto result = parse_config(text, kPath);
      INFO(result.status().message());
      REQUIRE(result.ok());
      CHECK(result->disk_types[0].multiattach);
      CHECK(result->disk_types[0].cache == good);
    }
  }
}

TEST_CASE("an unknown cache mode names file, line and key", "[config]") {
  for (const std::string bad : {"default", "None", "write-back", "none,directsync"}) {
    DYNAMIC_SECTION("cache = " << bad) {
      const std::string text = with_disk_type("tags = media:ssd\ncache = " + bad + "\n");
      auto message =
          require_error(parse_config(text, kPath), line_of(text, "cache"), "[disk_type:t] cache");
      CHECK_THAT(message, Contains("writethrough"));
    }
  }
}

TEST_CASE("a bad boolean names file, line and key", "[config]") {
  for (const std::string bad : {"2", "on", "y", "truee", "-1"}) {
    DYNAMIC_SECTION("multiattach = " << bad) {
      const std::string text = with_disk_type("tags = media:ssd\nmultiattach = " + bad + "\n");
      require_error(parse_config(text, kPath), line_of(text, "multiattach"),
                    "[disk_type:t] multiattach");
    }
  }
  SECTION("every spelling of true and false is accepted") {
    for (const std::string good : {"true", "false", "yes", "no", "1", "0", "True", "NO"}) {
      const std::string text = with_disk_type("tags = media:ssd\nmultiattach = " + good + "\n");
      auto result = parse_config(text, kPath);
      INFO(good << ": " << result.status().message());
      REQUIRE(result.ok());
      bool expected = good == "true" || good == "yes" || good == "1" || good == "True";
      CHECK(result->disk_types[0].multiattach == expected);
    }
  }
}

TEST_CASE("a bad libvirt_secret_uuid names file, line and key", "[config]") {
  for (const std::string bad :
       {"5f0c3a56-...", "5f0c3a561b2c4d5e8f90a1b2c3d4e5f6", "5f0c3a56-1b2c-4d5e-8f90-a1b2c3d4e5f",
        "5f0c3a56-1b2c-4d5e-8f90-"
        "a1b2c3d4e5fg",
        "{5f0c3a56-1b2c-4d5e-8f90-a1b2c3d4e5f6}"}) {
    DYNAMIC_SECTION("uuid = " << bad) {
      const std::string text = with(kMinimal, "image_pool = images\n",
                                    "image_pool = images\nlibvirt_secret_uuid = " + bad + "\n");
      require_error(parse_config(text, kPath), line_of(text, "libvirt_secret_uuid"),
                    "[fast] libvirt_secret_uuid");
    }
  }
  SECTION("upper-case hex is a UUID") {
    const std::string text =
        with(kMinimal, "image_pool = images\n",
             "image_pool = images\nlibvirt_secret_uuid = 5F0C3A56-1B2C-4D5E-8F90-A1B2C3D4E5F6\n");
    REQUIRE(parse_config(text, kPath).ok());
  }
}

TEST_CASE("image_store naming a backend that is not enabled names file, line and key", "[config]") {
  SECTION("not enabled") {
    const std::string text = with_disk_type("tags = media:ssd\nimage_store = slow\n");
    auto message = require_error(parse_config(text, kPath), line_of(text, "image_store"),
                                 "[disk_type:t] image_store");
    CHECK_THAT(message, Contains("'slow'"));
    CHECK_THAT(message, Contains("fast, capacity"));
  }
  SECTION("an enabled backend other than the type's own is accepted") {
    const std::string text = with_disk_type("tags = media:ssd\nimage_store = capacity\n");
    auto result = parse_config(text, kPath);
    REQUIRE(result.ok());
    CHECK(result->disk_types[0].image_store == "capacity");
  }
}

TEST_CASE("backend ids, disk type names, pool and user names must be safe names", "[config]") {
  const std::string long_name(65, 'a');
  for (const std::string bad :
       {"vol:umes", "vol@umes", "vol/umes", "'volumes'", "\"volumes\"", "vol umes", "-volumes",
        "_volumes", "vol,umes", long_name.c_str()}) {
    for (const std::string key : {"volume_pool", "image_pool", "rbd_user"}) {
      DYNAMIC_SECTION(key << " = " << bad) {
        // Replaces the key's line in [fast], or adds one for rbd_user.
        const std::string text =
            key == "rbd_user"
                ? with(kMinimal, "ceph_conf = /etc/ceph/fast.conf",
                       "ceph_conf = /etc/ceph/fast.conf\nrbd_user = " + bad)
                : with(kMinimal,
                       key == "volume_pool" ? "volume_pool = volumes" : "image_pool = images",
                       key + " = " + bad);
        auto message = require_error(parse_config(text, kPath), line_of(text, key + " = " + bad),
                                     "[fast] " + key);
        CHECK_THAT(message, Contains("invalid name"));
      }
    }
  }
  SECTION("a name of 64 characters is accepted") {
    const std::string text =
        with(kMinimal, "volume_pool = volumes", "volume_pool = " + std::string(64, 'v'));
    REQUIRE(parse_config(text, kPath).ok());
  }
  SECTION("a bad backend id") {
    const std::string text = with(kMinimal, "fast, capacity", "fast, capacity, ca@p");
    auto message = require_error(parse_config(text, kPath), line_of(text, "enabled_backends"),
                                 "[DEFAULT] enabled_backends");
    CHECK_THAT(message, Contains("'ca@p'"));
  }
  SECTION("DEFAULT as a backend id") {
    const std::string text = with(kMinimal, "fast, capacity", "fast, capacity, DEFAULT");
    require_error(parse_config(text, kPath), line_of(text, "enabled_backends"),
                  "[DEFAULT] enabled_backends");
  }
  for (const std::string bad : {"", "-x", "a b", long_name.c_str()}) {
    DYNAMIC_SECTION("disk type name '" << bad << "'") {
      const std::string text = kMinimal + "\n[disk_type:" + bad + "]\ntags = media:ssd\n";
      auto message = require_error(parse_config(text, kPath), line_of(text, "[disk_type:"),
                                   "[disk_type:" + bad + "]");
      CHECK_THAT(message, Contains("invalid disk type name"));
    }
  }
}

TEST_CASE("tags must be NAME or NAME:VALUE", "[config]") {
  for (const std::string bad : {"media:ssd:x", ":ssd", "media:", "media ssd", "media=ssd",
                                "m\xc3\xa9"
                                "dia"}) {
    DYNAMIC_SECTION("tag '" << bad << "'") {
      const std::string text =
          with(kMinimal, "tags = media:ssd, purpose:general", "tags = purpose:general, " + bad);
      auto message =
          require_error(parse_config(text, kPath), line_of(text, "tags = purpose"), "[fast] tags");
      CHECK_THAT(message, Contains("invalid tag"));
    }
  }
  SECTION("a tag without a value is accepted") {
    const std::string text = with(kMinimal, "tags = media:ssd, purpose:general", "tags = gold");
    auto result = parse_config(text, kPath);
    REQUIRE(result.ok());
    CHECK(result->backends[0].tags == std::vector<std::string>{"gold"});
  }
}

TEST_CASE("an empty item or a repeated item in a comma list is an error", "[config]") {
  SECTION("enabled_backends with two commas") {
    const std::string text = with(kMinimal, "fast, capacity", "fast,, capacity");
    require_error(parse_config(text, kPath), line_of(text, "enabled_backends"),
                  "[DEFAULT] enabled_backends");
  }
  SECTION("enabled_backends with a trailing comma") {
    const std::string text = with(kMinimal, "fast, capacity", "fast, capacity,");
    require_error(parse_config(text, kPath), line_of(text, "enabled_backends"),
                  "[DEFAULT] enabled_backends");
  }
  SECTION("backend tags with a leading comma") {
    const std::string text = with(kMinimal, "tags = media:ssd", "tags = , media:ssd");
    auto message =
        require_error(parse_config(text, kPath), line_of(text, "tags = ,"), "[fast] tags");
    CHECK_THAT(message, Contains("empty item"));
  }
  SECTION("disk type tags of only a comma") {
    const std::string text = with_disk_type("tags = ,\n");
    require_error(parse_config(text, kPath), line_of(text, "tags = ,"), "[disk_type:t] tags");
  }
  SECTION("a backend listed twice") {
    const std::string text = with(kMinimal, "fast, capacity", "fast, capacity, fast");
    auto message = require_error(parse_config(text, kPath), line_of(text, "enabled_backends"),
                                 "[DEFAULT] enabled_backends");
    CHECK_THAT(message, Contains("twice"));
  }
}

TEST_CASE("an empty value for an optional key is an error, not the default", "[config]") {
  for (const std::string key : {"rbd_user", "keyring", "tags", "weight", "libvirt_secret_uuid"}) {
    DYNAMIC_SECTION(key << " =") {
      const std::string untagged = with(kMinimal, "tags = media:hdd, purpose:archive\n", "");
      const std::string text = with(untagged, "[capacity]\n", "[capacity]\n" + key + " =\n");
      auto message = require_error(parse_config(text, kPath), line_of(text, key + " =\n"),
                                   "[capacity] " + key);
      CHECK_THAT(message, Contains("empty value"));
    }
  }
}

TEST_CASE("an error late in the file gives no config at all", "[config]") {
  const std::string text = kMinimal + "\n[disk_type:t]\ntags = media:ssd\ncache = fast\n";
  auto result = parse_config(text, kPath);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().err() == EINVAL);
}

TEST_CASE("a backend matches when it carries every tag the list names", "[config]") {
  Backend b;
  b.tags = {"media:ssd", "purpose:general"};
  CHECK(rbdvol::config::backend_matches(b, {}));
  CHECK(rbdvol::config::backend_matches(b, {"media:ssd"}));
  CHECK(rbdvol::config::backend_matches(b, {"purpose:general", "media:ssd"}));
  CHECK_FALSE(rbdvol::config::backend_matches(b, {"media:ssd", "purpose:archive"}));
  CHECK_FALSE(rbdvol::config::backend_matches(b, {"media"}));
  Backend untagged;
  CHECK(rbdvol::config::backend_matches(untagged, {}));
  CHECK_FALSE(rbdvol::config::backend_matches(untagged, {"media:ssd"}));
}

TEST_CASE("load_config_file of a missing file gives ENOENT naming the path", "[config]") {
  const std::string path = "/nonexistent/rbdvol/none.conf";
  auto result = load_config_file(path);
  REQUIRE_FALSE(result.ok());
  CHECK(result.status().err() == ENOENT);
  CHECK_THAT(result.status().message(), Contains("cannot read config " + path + ": "));
  CHECK_THAT(result.status().message(), Contains("No such file"));
}

namespace {

struct LoadOutcome {
  int err = -1;  // 0: loaded
  std::string message;
};

// load_config_file(path) as a user without privileges: directly when this
// process is not root, else in a forked child that drops to nobody (setgroups,
// setgid, setuid) and sends the outcome back through a pipe.
LoadOutcome load_as_unprivileged(const std::string& path) {
  if (geteuid() != 0) {
    auto result = load_config_file(path);
    return {result.status().err(), result.status().message()};
  }
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    const uid_t nobody = 65534;
    if (setgroups(0, nullptr) != 0 || setgid(nobody) != 0 || setuid(nobody) != 0 ||
        geteuid() == 0) {
      _exit(2);
    }
    auto result = load_config_file(path);
    const std::string report =
        std::to_string(result.status().err()) + "\n" + result.status().message();
    ssize_t ignored = write(fds[1], report.data(), report.size());
    (void)ignored;  // the parent sees a short report and fails
    _exit(0);
  }
  close(fds[1]);
  std::string report;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) report.append(buf, n);
  close(fds[0]);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  INFO("the child could not drop to nobody when its exit status is 2");
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  const auto newline = report.find('\n');
  REQUIRE(newline != std::string::npos);
  return {std::stoi(report.substr(0, newline)), report.substr(newline + 1)};
}

}  // namespace

TEST_CASE("load_config_file reads a real file and names it in errors", "[config]") {
  char dir_template[] = "/tmp/rbdvol_config_test.XXXXXX";
  REQUIRE(mkdtemp(dir_template) != nullptr);
  const std::string dir = dir_template;
  const std::string path = dir + "/rbdvol.conf";

  SECTION("a good file loads") {
    { std::ofstream(path) << kMinimal; }
    auto result = load_config_file(path);
    INFO(result.status().message());
    REQUIRE(result.ok());
    CHECK(result->path == path);
    CHECK(result->backends.size() == 2);
  }
  SECTION("a bad file names its own path, the line and the key") {
    const std::string text = with(kMinimal, "volume_pool = volumes", "volume_pool = a/b");
    { std::ofstream(path) << text; }
    auto result = load_config_file(path);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().err() == EINVAL);
    CHECK_THAT(
        result.status().message(),
        Contains(path + ":" + std::to_string(line_of(text, "a/b")) + ": [fast] volume_pool"));
  }
  SECTION("a directory cannot be read") {
    auto result = load_config_file(dir);
    REQUIRE_FALSE(result.ok());
    CHECK(result.status().err() == EISDIR);
    CHECK_THAT(result.status().message(), Contains("cannot read config " + dir));
  }
  SECTION("an unreadable file gives EACCES") {
    { std::ofstream(path) << kMinimal; }
    REQUIRE(chmod(path.c_str(), 0) == 0);
    // Root reads any file, and CI runs as root: there the loader runs in a
    // child that has dropped to nobody, so that the check is made either way.
    REQUIRE(chmod(dir.c_str(), 0755) == 0);
    const LoadOutcome outcome = load_as_unprivileged(path);
    INFO(outcome.message);
    CHECK(outcome.err == EACCES);
    CHECK_THAT(outcome.message, Contains("cannot read config " + path));
  }
  std::remove(path.c_str());
  rmdir(dir.c_str());
}

TEST_CASE("the [service] section is optional and every key has a default", "[config]") {
  auto plain = parse_config(kMinimal, kPath);
  REQUIRE(plain.ok());
  CHECK(plain->service.listen == "127.0.0.1:8776");
  CHECK(plain->service.auth_strategy == "noauth");
  CHECK(plain->service.max_body_bytes == 1048576);
  CHECK(plain->service.shutdown_grace == 30);
  const std::string text = kMinimal +
                           "\n[service]\nlisten = [::1]:9000\nauth_strategy = token\n"
                           "token_file = /etc/rbdvol/tokens\nmax_body_bytes = 4096\n"
                           "max_connections = 3\nidle_timeout = 7\nrequest_timeout = 2\n"
                           "shutdown_grace = 5\nworkers = 2\ntls_cert = /c.pem\ntls_key = /k.pem\n";
  auto full = parse_config(text, kPath);
  REQUIRE(full.ok());
  CHECK(full->service.listen == "[::1]:9000");
  CHECK(full->service.auth_strategy == "token");
  CHECK(full->service.token_file == "/etc/rbdvol/tokens");
  CHECK(full->service.max_body_bytes == 4096);
  CHECK(full->service.max_connections == 3);
  CHECK(full->service.workers == 2);
  CHECK(full->service.tls_key == "/k.pem");
}

TEST_CASE("a bad [service] key names file, line and key", "[config]") {
  const std::string base = kMinimal + "\n[service]\n";
  struct Case {
    std::string line;
    std::string key;
  };
  for (const Case& c :
       {Case{"listen = 127.0.0.1", "listen"}, Case{"listen = ::1:80", "listen"},
        Case{"listen = 127.0.0.1:70000", "listen"},
        Case{"auth_strategy = keystone", "auth_strategy"},
        Case{"auth_strategy = token", "token_file"}, Case{"max_body_bytes = 0", "max_body_bytes"},
        Case{"max_header_bytes = 99999999", "max_header_bytes"}, Case{"workers = -1", "workers"},
        Case{"tls_cert = /c.pem", "tls_key"}, Case{"bogus = 1", "bogus"}}) {
    INFO(c.line);
    const std::string text = base + c.line + "\n";
    auto r = parse_config(text, kPath);
    int line = c.key == "token_file" || c.key == "tls_key" ? line_of(text, "[service]")
                                                           : line_of(text, c.line);
    require_error(r, line, c.key);
  }
  auto clash = parse_config(with(kMinimal, "fast, capacity", "fast, service"), kPath);
  REQUIRE_FALSE(clash.ok());
  CHECK_THAT(clash.status().message(), Contains("'service' cannot be a backend id"));
}
