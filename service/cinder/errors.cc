#include "service/cinder/errors.h"

#include <nlohmann/json.hpp>

namespace rbdvol::service::cinder {
namespace {

const char* kind_for_status(int status) {
  switch (status) {
    case 400:
      return "badRequest";
    case 401:
      return "unauthorized";
    case 403:
      return "forbidden";
    case 404:
      return "itemNotFound";
    case 405:
      return "badMethod";
    case 406:
      return "notAcceptable";
    case 409:
      return "conflictingRequest";
    case 413:
      return "overLimit";
    case 415:
      return "badMediaType";
    case 501:
      return "notImplemented";
    case 503:
      return "serviceUnavailable";
    default:
      return "computeFault";
  }
}

}  // namespace

HttpError http_error_for(int err) {
  switch (err) {
    case ENOENT:
      return {404, "itemNotFound"};
    case EINVAL:
    case ERANGE:
    case ENAMETOOLONG:
      return {400, "badRequest"};
    case EEXIST:
    case EBUSY:
    case ENOTEMPTY:
    case EAGAIN:
      return {409, "conflictingRequest"};
    case ENOSPC:
    case EDQUOT:
    case EFBIG:
      return {413, "overLimit"};
    case EACCES:
    case EPERM:
      return {403, "forbidden"};
    case ENOSYS:
    case EOPNOTSUPP:
      return {501, "notImplemented"};
    case EHOSTUNREACH:
    case ETIMEDOUT:
    case ECONNREFUSED:
    case ENOTCONN:
    case ESHUTDOWN:
      return {503, "serviceUnavailable"};
    default:
      return {500, "computeFault"};
  }
}

ApiResponse error_response(int status, const std::string& message) {
  ApiResponse response;
  response.status = status;
  response.body =
      nlohmann::json{{kind_for_status(status), {{"message", message}, {"code", status}}}}.dump(
          -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return response;
}

ApiResponse error_response(const Status& status) {
  return error_response(http_error_for(status.err()).status, status.message());
}

}  // namespace rbdvol::service::cinder
