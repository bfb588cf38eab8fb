// Errors in Cinder's shape: {"itemNotFound": {"message": ..., "code": 404}}.
// The mapping from the plugin's errno to an HTTP status is a pure function,
// tested by table (tests/unit/service_test.cc).
#pragma once

#include <string>

#include "service/api_request.h"
#include "status/status.h"

namespace rbdvol::service::cinder {

struct HttpError {
  int status;
  const char* kind;  // "itemNotFound", "badRequest", ...
};

// The HTTP status and Cinder's fault name for a plugin errno.
HttpError http_error_for(int err);

// An answer with `status` and Cinder's fault body for it.
ApiResponse error_response(int status, const std::string& message);
// The same for a failed Status (http_error_for its errno).
ApiResponse error_response(const Status& status);

}  // namespace rbdvol::service::cinder
