// Requests that are not JSON, straight through the real plugin's C ABI (the
// raw text, which a host's JSON library might never produce). Found by
// tests/fuzz/abi_fuzz.cc.
#include <catch2/catch.hpp>

#include <dlfcn.h>

#include <cerrno>
#include <string>

#include "include/rbdvol/driver.h"

namespace {

struct Call {
  int status;
  std::string message;
};

Call call_raw(const char* op, const char* request) {
  void* lib = dlopen(RBDVOL_PLUGIN_PATH, RTLD_NOW | RTLD_LOCAL);
  REQUIRE(lib != nullptr);
  auto entry = reinterpret_cast<rbdvol_driver_entry_fn>(dlsym(lib, RBDVOL_DRIVER_ENTRY_SYMBOL));
  REQUIRE(entry != nullptr);
  const rbdvol_driver_ops* ops = entry();
  rbdvol_driver* driver = nullptr;
  char* err = nullptr;
  REQUIRE(ops->open(nullptr, &driver, &err) == 0);
  char* answer = nullptr;
  Call out{ops->call(driver, op, request, nullptr, nullptr, &answer, &err), ""};
  CHECK(answer == nullptr);
  if (err) out.message = err;
  ops->free_string(answer);
  ops->free_string(err);
  ops->close(driver);
  dlclose(lib);
  return out;
}

}  // namespace

TEST_CASE("a request whose number overflows is refused as invalid JSON, not an internal error",
          "[abi]") {
  for (const char* request : {"1e400", "{\"id\":1e400}", "{\"id\":\"x\",\"size\":-1e999}"}) {
    INFO(request);
    Call c = call_raw("volume.show", request);
    CHECK(c.status == -EINVAL);
    CHECK(c.message.find("volume.show: the request is not valid JSON") == 0);
  }
}

TEST_CASE("a request that does not parse is refused as invalid JSON", "[abi]") {
  Call c = call_raw("volume.show", "{\"id\":");
  CHECK(c.status == -EINVAL);
  CHECK(c.message.find("volume.show: the request is not valid JSON") == 0);
}
