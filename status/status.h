// Errors as values, in the manner of leveldb::Status: a Status is either ok or
// carries a positive errno (ENOENT, EBUSY, ...) and a message that names what
// is wrong. Result<T> holds either a T or a non-ok Status.
#pragma once

#include <cerrno>
#include <optional>
#include <string>
#include <utility>

namespace rbdvol {

class Status {
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

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}         // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {  // NOLINT
    if (status_.ok()) status_ = Status::Error(EIO, "internal error: ok Status without a value");
  }

  bool ok() const { return status_.ok(); }
  const Status& status() const { return status_; }
  T& value() & { return *value_; }
  const T& value() const& { return *value_; }
  T&& value() && { return std::move(*value_); }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }
  T& operator*() { return *value_; }
  const T& operator*() const { return *value_; }

 private:
  Status status_;
  std::optional<T> value_;
};

}  // namespace rbdvol
