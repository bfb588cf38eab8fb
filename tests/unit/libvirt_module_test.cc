// Loading librbdvol_libvirt.so, the rbdvol command's way to libvirt.
#include <catch2/catch.hpp>

#include "cli/libvirt_module_loader.h"

using rbdvol::cli::load_libvirt_module;

TEST_CASE("a libvirt module that cannot be loaded is refused with its path and the reason",
          "[libvirt_module]") {
  auto missing = load_libvirt_module("/nonexistent/librbdvol_libvirt.so");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.status().err() == ENOENT);
  CHECK(missing.status().message().find("/nonexistent/librbdvol_libvirt.so") != std::string::npos);
  CHECK(missing.status().message().find("No such file") != std::string::npos);
}

TEST_CASE("a library without the entry points, or of another version, is refused",
          "[libvirt_module]") {
  auto no_entry = load_libvirt_module(RBDVOL_NOT_A_PLUGIN);
  REQUIRE_FALSE(no_entry.ok());
  CHECK(no_entry.status().err() == ENOEXEC);
  CHECK(no_entry.status().message().find("rbdvol_libvirt_module_version") != std::string::npos);
  auto other_build = load_libvirt_module(RBDVOL_WRONG_VERSION_LIBVIRT_MODULE);
  REQUIRE_FALSE(other_build.ok());
  CHECK(other_build.status().err() == EPROTO);
  CHECK(other_build.status().message().find("version 99") != std::string::npos);
}

TEST_CASE("the real libvirt module connects, and names the URI it cannot connect to",
          "[libvirt_module]") {
  auto connect = load_libvirt_module(RBDVOL_LIBVIRT_MODULE_PATH);
  REQUIRE(connect.ok());
  rbdvol::Result<std::unique_ptr<rbdvol::attach::Hypervisor>> hv =
      rbdvol::Status::Error(EIO, "not called");
  SECTION("libvirt's in-process test driver, no daemon needed") {
    (*connect)("test:///default", &hv);
    REQUIRE(hv.ok());
    auto domains = (*hv)->list_domains();
    REQUIRE(domains.ok());
    CHECK(*domains == std::vector<std::string>{"test"});
    auto running = (*hv)->is_running("test");
    REQUIRE(running.ok());
    CHECK(*running);
  }
  SECTION("a URI of no driver") {
    (*connect)("nosuchdriver:///x", &hv);
    REQUIRE_FALSE(hv.ok());
    CHECK(hv.status().err() == ECONNREFUSED);
    CHECK(hv.status().message().find("nosuchdriver:///x") != std::string::npos);
  }
}
