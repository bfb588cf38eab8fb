// The exit statuses of the rbdvol command, so that a script can tell a
// missing volume from a busy one or from a cluster that does not answer.
// Documented in README.md ("The rbdvol command") and `rbdvol --help`.
#pragma once

namespace rbdvol::cli {

enum ExitStatus : int {
  kExitOk = 0,
  kExitFailure = 1,      // any other failure
  kExitUsage = 2,        // bad command line: unknown command or option, missing argument
  kExitNotFound = 3,     // ENOENT, ENXIO, ENODEV: no such volume, image, backend, file...
  kExitConflict = 4,     // EEXIST, EBUSY, ENOTEMPTY, EALREADY, ETXTBSY: exists, in use
  kExitInvalid = 5,      // EINVAL, ERANGE, EDOM, ENAMETOOLONG, EFBIG, EOVERFLOW: bad input
  kExitUnreachable = 6,  // ETIMEDOUT, EHOSTUNREACH, ECONNREFUSED, ...: a backend did not answer
};

// Not an errno: the error of a command-line check a command makes itself
// ("--size is required"), so that it exits kExitUsage like a parse error.
// Above every errno Linux defines.
constexpr int kUsageErrno = 0x1000;

// The exit status for a failure with positive errno `err` (Status::err()).
// Pure; table-driven test in tests/unit/cli_text_test.cc.
int exit_status_for_errno(int err);

// The table above as text, for `rbdvol --help`.
const char* exit_status_help();

}  // namespace rbdvol::cli
