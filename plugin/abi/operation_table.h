// The operations a host calls by name through the ABI (docs/driver-abi.md).
#pragma once

#include <string>

#include "plugin/driver.h"

namespace rbdvol::plugin {

// Runs operation `op` on `driver`; ENOSYS for an operation this driver does
// not know, EINVAL for a request that is not a JSON object or an operation
// that needs a config the driver was opened without. `stream` is the data of
// a call_stream; without one (call), a streaming operation is EINVAL.
Result<Json> call_operation(Driver& driver, const std::string& op, const Json& request,
                            const Progress& progress, DataStream* stream = nullptr);

}  // namespace rbdvol::plugin
