// A test hook in the manner of leveldb's fault-injecting Env: named fault
// points in the operations, where a test makes an operation fail half way
// and checks that nothing was left behind.
//
// The points are set in two ways:
//  - In-process, by a ScopedFaultPoints that a unit test holds (over the
//    in-memory Env, tests/unit/memory_env.h). Always compiled in; nothing
//    outside the process can set them.
//  - From the environment variable RBDVOL_FAULT, for the integration tests
//    that run the rbdvol command against real clusters. Only in a build
//    configured with -DRBDVOL_FAULT_INJECTION=ON (scripts/build does so); a
//    production build does not read RBDVOL_FAULT at all. See "Fault
//    injection" in docs/testing.md.
//
// The list is comma separated. "point" makes inject_fault(point) return EIO.
// "point=kill" makes the process kill itself with SIGKILL there instead: a
// real kill, which undoes nothing, so a test can check what a crash at that
// point leaves and that a resumed run finishes it. "point=stop" stops the
// process there (SIGSTOP) and goes on when it is continued, so a test can act
// while it waits at that point. The points are listed in docs/driver-abi.md.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "status/status.h"

namespace rbdvol::plugin {

// EIO naming `point` when the list holds it (after a kill or stop, when it
// holds "point=kill" or "point=stop"); Ok otherwise.
Status inject_fault(const char* point);

// The N of "point=N" in the list (a test hook that takes a count, such as
// image.copy:kill-after-chunk=N); 0 when the list does not hold it.
uint64_t fault_count(const char* point);

// The uuid that "new-id=<uuid>" in the list makes the next new volume or
// image id (new_unused_id in records/catalog.h) be: how a test checks that
// an id that names something already is refused.
std::optional<std::string> forced_id();

// Whether this build reads RBDVOL_FAULT (-DRBDVOL_FAULT_INJECTION=ON).
bool reads_fault_environment();

// Sets the fault list of this process for its lifetime (in place of
// RBDVOL_FAULT), and puts back the one before when destroyed. Not nested
// across threads: one test at a time.
class ScopedFaultPoints {
 public:
  explicit ScopedFaultPoints(std::string list);
  ~ScopedFaultPoints();
  ScopedFaultPoints(const ScopedFaultPoints&) = delete;
  ScopedFaultPoints& operator=(const ScopedFaultPoints&) = delete;

 private:
  std::optional<std::string> previous_;
};

}  // namespace rbdvol::plugin
