// The C ABI of librbdvol_rbd.so. Nothing but rbdvol_driver_entry is exported
// (see exports.map), and no exception leaves this file.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>

#include "include/rbdvol/driver.h"
#include "plugin/abi/operation_table.h"

struct rbdvol_driver {
  std::unique_ptr<rbdvol::plugin::Driver> impl;
};

namespace {

char* copy_string(const std::string& s) {
  char* out = static_cast<char*>(std::malloc(s.size() + 1));
  if (out) std::memcpy(out, s.c_str(), s.size() + 1);
  return out;
}

int fail(char** errmsg, const rbdvol::Status& status) {
  if (errmsg) *errmsg = copy_string(status.message());
  return -status.err();
}

int fail(char** errmsg, int err, const std::string& message) {
  return fail(errmsg, rbdvol::Status::Error(err, message));
}

int driver_open(const char* config_path, rbdvol_driver** out, char** errmsg) {
  if (errmsg) *errmsg = nullptr;
  if (!out) return fail(errmsg, EINVAL, "open: out is required");
  *out = nullptr;
  try {
    auto driver = config_path ? rbdvol::plugin::Driver::open(config_path)
                              : rbdvol::plugin::Driver::open_without_config();
    if (!driver.ok()) return fail(errmsg, driver.status());
    *out = new rbdvol_driver{std::move(driver).value()};
    return 0;
  } catch (const std::bad_alloc&) {
    return fail(errmsg, ENOMEM, "open: out of memory");
  } catch (const std::exception& e) {
    return fail(errmsg, EIO, std::string("open: internal error: ") + e.what());
  }
}

void driver_close(rbdvol_driver* driver) { delete driver; }

// call and call_stream: `stream` is null for call.
int run_call(rbdvol_driver* driver, const char* op, const char* request,
             rbdvol::plugin::DataStream* stream, rbdvol_progress_fn progress, void* progress_ctx,
             char** answer, char** errmsg) {
  if (errmsg) *errmsg = nullptr;
  if (answer) *answer = nullptr;
  if (!driver || !op || !answer)
    return fail(errmsg, EINVAL, "call: driver, op and answer are required");
  try {
    nlohmann::json req = nlohmann::json::object();
    if (request && *request) {
      // Not only parse_error: a number too large for a double ("1e400") is
      // an out_of_range, and just as much a request that is not valid JSON.
      try {
        req = nlohmann::json::parse(request);
      } catch (const nlohmann::json::exception& e) {
        return fail(errmsg, EINVAL,
                    std::string(op) + ": the request is not valid JSON: " + e.what());
      }
    }
    auto result = rbdvol::plugin::call_operation(
        *driver->impl, op, req, rbdvol::plugin::Progress(progress, progress_ctx), stream);
    if (!result.ok()) return fail(errmsg, result.status());
    *answer = copy_string(result->dump());
    if (!*answer) return fail(errmsg, ENOMEM, "call: out of memory");
    return 0;
  } catch (const std::bad_alloc&) {
    return fail(errmsg, ENOMEM, std::string(op) + ": out of memory");
  } catch (const std::exception& e) {
    return fail(errmsg, EIO, std::string(op) + ": internal error: " + e.what());
  }
}

int driver_call(rbdvol_driver* driver, const char* op, const char* request,
                rbdvol_progress_fn progress, void* progress_ctx, char** answer, char** errmsg) {
  return run_call(driver, op, request, nullptr, progress, progress_ctx, answer, errmsg);
}

int driver_call_stream(rbdvol_driver* driver, const char* op, const char* request,
                       rbdvol_read_fn read, void* read_ctx, rbdvol_write_fn write, void* write_ctx,
                       rbdvol_progress_fn progress, void* progress_ctx, char** answer,
                       char** errmsg) {
  rbdvol::plugin::DataStream stream(read, read_ctx, write, write_ctx);
  return run_call(driver, op, request, &stream, progress, progress_ctx, answer, errmsg);
}

void driver_free_string(char* s) { std::free(s); }

const rbdvol_driver_ops kOps = {
    RBDVOL_DRIVER_ABI_VERSION, sizeof(rbdvol_driver_ops), driver_open, driver_close, driver_call,
    driver_free_string,        driver_call_stream,
};

}  // namespace

extern "C" RBDVOL_EXPORT const rbdvol_driver_ops* rbdvol_driver_entry(void) { return &kOps; }
