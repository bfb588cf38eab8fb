// The operations a host calls by name through the ABI (docs/driver-abi.md).
#pragma once

#include <string>

#include "plugin/driver.h"

namespace rbdvol::plugin {

// Runs operation `op` on `driver`; ENOSYS for an operation this driver does
// not know, EINVAL for a request that is not a JSON object or an operation
// that needs a config the driver was opened without.
Result<Json> call_operation(Driver& driver, const std::string& op, const Json& request,
                            const Progress& progress);

}  // namespace rbdvol::plugin
