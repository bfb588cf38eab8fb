#include "cli/exit_status.h"

#include <cerrno>

namespace rbdvol::cli {

int exit_status_for_errno(int err) {
  if (err < 0) err = -err;
  switch (err) {
    case 0:
      return kExitOk;
    case kUsageErrno:
      return kExitUsage;
    case ENOENT:
    case ENXIO:
    case ENODEV:
      return kExitNotFound;
    case EEXIST:
    case EBUSY:
    case ENOTEMPTY:
    case EALREADY:
    case ETXTBSY:
      return kExitConflict;
    case EINVAL:
    case ERANGE:
    case EDOM:
    case ENAMETOOLONG:
    case EFBIG:
    case EOVERFLOW:
      return kExitInvalid;
    case ETIMEDOUT:
    case EHOSTUNREACH:
    case EHOSTDOWN:
    case ECONNREFUSED:
    case ECONNRESET:
    case ECONNABORTED:
    case ENETUNREACH:
    case ENETDOWN:
    case ENOTCONN:
    case ESHUTDOWN:
      return kExitUnreachable;
    default:
      return kExitFailure;
  }
}

const char* exit_status_help() {
  return "exit status:\n"
         "  0  success\n"
         "  1  any other failure\n"
         "  2  usage: unknown command or option, missing or extra argument\n"
         "  3  not found: no such volume, image, snapshot, backend or file (ENOENT)\n"
         "  4  conflict: exists already, busy, in use, has clones (EEXIST, EBUSY, ENOTEMPTY)\n"
         "  5  invalid input: bad size, name, type or config (EINVAL, ERANGE)\n"
         "  6  unreachable: a backend did not answer (ETIMEDOUT, EHOSTUNREACH, ECONNREFUSED);\n"
         "     also 'backend list', 'volume list' and 'image list' when a backend is down\n";
}

}  // namespace rbdvol::cli
