// Errors as values, in the manner of leveldb::Status: a Status is either ok or
// carries a positive errno (ENOENT, EBUSY, ...) and a message that names what
// is wrong. Result<T> holds either a T or a non-ok Status. Both are
// [[nodiscard]]: an error is handled or passed on, never dropped unseen; a
// call whose failure really does not matter says so with `(void)` and a
// comment giving the reason.
#pragma once

#include <cerrno>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

namespace rbdvol {

class [[nodiscard]] Status {
 public:
  Status() = default;

  static Status Ok() { return Status(); }
  // `err` is a positive errno value; a negative one (as librbd returns) is
  // accepted and turned positive so callers can pass `-r` or `r` alike.
  static Status Error(int err, std::string message) {
    return Status(err < 0 ? -err : (err == 0 ? EIO : err), std::move(message));
  }
  static Status NotFound(std::string m) { return Error(ENOENT, std::move(m)); }
  static Status Exists(std::string m) { return Error(EEXIST, std::move(m)); }
  static Status Busy(std::string m) { return Error(EBUSY, std::move(m)); }
  static Status Invalid(std::string m) { return Error(EINVAL, std::move(m)); }

  bool ok() const { return err_ == 0; }
  // Positive errno, 0 when ok.
  int err() const { return err_; }
  const std::string& message() const { return message_; }

  // The same error with `context` put in front of the message:
  // "attach vm2: " + "volume is busy".
  Status Prefixed(const std::string& context) const {
    if (ok()) return *this;
    return Status(err_, context + ": " + message_);
  }

 private:
  Status(int err, std::string message) : err_(err), message_(std::move(message)) {}

  int err_ = 0;
  std::string message_;
};

// Thrown by Result<T>::value() (and * and ->) on a Result that holds an error.
class BadResultAccess : public std::logic_error {
 public:
  explicit BadResultAccess(const Status& status)
      : std::logic_error("internal error: value of a failed result read: " + status.message()),
        err_(status.err()) {}
  int err() const { return err_; }

 private:
  int err_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Status::Error(EIO, "internal error: ok Status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  // The value. On an error these throw BadResultAccess, naming the error,
  // instead of reading an empty optional: a bug, but a defined one, which
  // the module edges (the ABI's entry, the command's main) report as EIO.
  T& value() & { return checked(); }
  const T& value() const& { return checked(); }
  T&& value() && { return std::move(checked()); }
  T* operator->() { return &checked(); }
  const T* operator->() const { return &checked(); }
  T& operator*() { return checked(); }
  const T& operator*() const { return checked(); }

 private:
  T& checked() {
    if (!value_) throw BadResultAccess(status_);
    return *value_;
  }
  const T& checked() const {
    if (!value_) throw BadResultAccess(status_);
    return *value_;
  }

  Status status_;
  std::optional<T> value_;
};

}  // namespace rbdvol

// RETURN_IF_ERROR(status_expr): returns the Status from the enclosing function
// (which returns Status or a Result<T>) when it is not ok.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::rbdvol::Status rbdvol_status_ = (expr);        \
    if (!rbdvol_status_.ok()) return rbdvol_status_; \
  } while (0)

#define RBDVOL_CONCAT_INNER_(a, b) a##b
#define RBDVOL_CONCAT_(a, b) RBDVOL_CONCAT_INNER_(a, b)

// ASSIGN_OR_RETURN(lhs, result_expr): evaluates a Result<T>; on an error
// returns its Status from the enclosing function, else moves the value into
// `lhs`, which may be a declaration (`auto image`) or an existing variable.
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(RBDVOL_CONCAT_(rbdvol_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL_(result, lhs, expr) \
  auto result = (expr);                           \
  if (!result.ok()) return result.status();       \
  lhs = std::move(result).value()
