// libFuzzer target for the plugin's C ABI (include/rbdvol/driver.h): fuzzed
// operation names and JSON requests go through rbdvol_driver_entry()->call,
// the way a host sends them, on drivers that reach no cluster: one opened on a
// config whose backends' ceph.conf files do not exist (every operation that
// needs a cluster fails at connect, after parsing its request), one opened
// without a config.
//
// Input: a selector byte, then the request. The selector's low 5 bits pick an
// operation of kOperationNames; a value past its end takes the operation's
// name from the input's first line instead (the rest is the request). Bit 5
// picks the driver opened without a config.
//
// A "path" in the request (image.upload, image.download, image.checksum read or
// write that local file) is rewritten to a file in the fuzzer's own temporary
// directory, so that no input reads /dev/zero or writes over a system file.
//
// The target traps when the ABI's contract breaks: a return that is neither 0
// nor a negative errno, an answer that is not one JSON object, a failure
// without a message or with an answer, a progress callback with a null stage,
// or an exception that reached the ABI ("internal error": a request the
// operation should have refused by name). Sanitizers report the rest.
//
// Later: when the plugin has its in-memory Env (issue 16, part 2), open the
// driver on it instead, so that the operations run past connect.
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <nlohmann/json.hpp>

#include "include/rbdvol/driver.h"

namespace {

void require(bool ok) {
  if (!ok) __builtin_trap();
}

const char* const kOperationNames[] = {
    "backend.list",      "backend.show",    "backend.auth",      "volume.create",
    "volume.show",       "volume.delete",   "volume.connection", "volume.list",
    "volume.extend",     "volume.retype",   "attachment.create", "attachment.update",
    "attachment.delete", "snapshot.create", "snapshot.list",     "snapshot.delete",
    "snapshot.revert",   "image.upload",    "image.list",        "image.show",
    "image.copy",        "image.delete",    "image.partials",    "image.create_from_volume",
    "image.verify",      "image.download",  "image.checksum",
};
constexpr size_t kOpCount = sizeof kOperationNames / sizeof kOperationNames[0];

struct Fixture {
  const rbdvol_driver_ops* ops = nullptr;
  rbdvol_driver* configured = nullptr;
  rbdvol_driver* bare = nullptr;
  std::string dir;
};

void write_file(const std::string& path, const std::string& text) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  require(f != nullptr);
  require(std::fwrite(text.data(), 1, text.size(), f) == text.size());
  require(std::fclose(f) == 0);
}

const Fixture& fixture() {
  static const Fixture fx = [] {
    Fixture f;
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/rbdvol-abi-fuzz.XXXXXX";
    require(mkdtemp(templ.data()) != nullptr);
    f.dir = templ;
    // Two backends so that placement, copies and image stores have a choice;
    // neither ceph.conf exists.
    write_file(f.dir + "/rbdvol.conf",
               "[DEFAULT]\n"
               "enabled_backends = a, b\n"
               "default_backend = a\n"
               "rados_connect_timeout = 1\n"
               "copy_wait_timeout = 1\n"
               "[a]\n"
               "ceph_conf = " +
                   f.dir +
                   "/missing-a.conf\n"
                   "volume_pool = volumes\nimage_pool = images\n"
                   "tags = media:ssd\n"
                   "libvirt_secret_uuid = 5f0c3a56-1b2c-4d5e-8f90-a1b2c3d4e5f6\n"
                   "[b]\n"
                   "ceph_conf = " +
                   f.dir +
                   "/missing-b.conf\n"
                   "keyring = " +
                   f.dir +
                   "/missing.keyring\n"
                   "volume_pool = volumes\nimage_pool = images\n"
                   "tags = media:hdd\nweight = 2\n"
                   "[disk_type:ssd]\ntags = media:ssd\n"
                   "[disk_type:shared]\ntags = media:hdd\nmultiattach = true\nimage_store = a\n");
    // What a "path" points at: a small raw image, a qcow2 header, or nothing.
    write_file(f.dir + "/raw.img", std::string(8192, '\x5a'));
    write_file(f.dir + "/head.qcow2", std::string("QFI\xfb\0\0\0\3", 8) + std::string(504, '\0'));
    f.ops = rbdvol_driver_entry();
    require(f.ops != nullptr && f.ops->abi_version == RBDVOL_DRIVER_ABI_VERSION);
    char* err = nullptr;
    require(f.ops->open((f.dir + "/rbdvol.conf").c_str(), &f.configured, &err) == 0);
    require(f.configured != nullptr && err == nullptr);
    require(f.ops->open(nullptr, &f.bare, &err) == 0);
    require(f.bare != nullptr && err == nullptr);
    return f;
  }();
  return fx;
}

void on_progress(void* ctx, const char* stage, uint64_t /*done*/, uint64_t /*total*/) {
  require(ctx == &fixture());
  require(stage != nullptr);
}

// The request with its "path" (if it is a JSON object that has one) moved
// into the fuzzer's directory; otherwise unchanged, bytes and all.
std::string confine_paths(const std::string& request, const std::string& dir) {
  nlohmann::json req = nlohmann::json::parse(request, nullptr, /*allow_exceptions=*/false);
  if (!req.is_object() || !req.contains("path")) return request;
  const nlohmann::json& p = req["path"];
  unsigned which = p.is_string() ? static_cast<unsigned>(p.get<std::string>().size()) % 4 : 4;
  switch (which) {
    case 0:
      req["path"] = dir + "/raw.img";
      break;
    case 1:
      req["path"] = dir + "/head.qcow2";
      break;
    case 2:
      req["path"] = dir + "/out.img";
      break;  // download's target
    case 3:
      req["path"] = dir + "/missing/none.img";
      break;
    default:
      break;  // not a string: the operation refuses it
  }
  return req.dump();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const Fixture& fx = fixture();
  const unsigned sel = data[0];
  std::string rest(reinterpret_cast<const char*>(data + 1), size - 1);
  std::string op;
  std::string request;
  if ((sel & 0x1f) < kOpCount) {
    op = kOperationNames[sel & 0x1f];
    request = rest;
  } else {
    size_t nl = rest.find('\n');
    op = rest.substr(0, nl);
    request = nl == std::string::npos ? "" : rest.substr(nl + 1);
  }
  request = confine_paths(request, fx.dir);
  rbdvol_driver* driver = (sel & 0x20) ? fx.bare : fx.configured;

  char* answer = nullptr;
  char* err = nullptr;
  int r = fx.ops->call(driver, op.c_str(), request.c_str(), on_progress, const_cast<Fixture*>(&fx),
                       &answer, &err);
  if (r == 0) {
    require(answer != nullptr && err == nullptr);
    // Always one JSON object (docs/driver-abi.md, `call`).
    require(nlohmann::json::parse(answer, nullptr, false).is_object());
  } else {
    require(r < 0 && r > -4096);
    require(answer == nullptr);
    require(err != nullptr && *err != '\0');
    require(std::string(err).rfind(op + ": internal error: ", 0) != 0);
  }
  fx.ops->free_string(answer);
  fx.ops->free_string(err);
  unlink((fx.dir + "/out.img").c_str());
  return 0;
}
