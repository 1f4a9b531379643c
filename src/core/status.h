// Errors as values: Status for operations without a result, Result<T> for
// those with one. Used for I/O, parsing and remote calls; exceptions are kept
// for programming errors and start-up.
#pragma once

#include <optional>
#include <string>
#include <utility>

namespace redkube {

class Status {
 public:
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  // An error that carries a code the caller branches on (the HTTP status of a
  // Kubernetes API answer: 404, 409, 410...), so callers need not parse text.
  static Status Error(std::string message, int code) {
    Status s(std::move(message));
    s.code_ = code;
    return s;
  }

  bool ok() const { return !message_.has_value(); }
  // The reason, for a failed status; empty for an ok one.
  const std::string& message() const {
    static const std::string kEmpty;
    return message_ ? *message_ : kEmpty;
  }
  // The code given to Error(message, code); 0 when none was (and when ok).
  int code() const { return code_; }

 private:
  Status() = default;
  explicit Status(std::string message) : message_(std::move(message)) {}
  std::optional<std::string> message_;
  int code_ = 0;
};

template <typename T>
class Result {
 public:
  Result(T value) : value_(std::move(value)) {}          // NOLINT: implicit by design
  Result(Status status) : status_(std::move(status)) {}  // NOLINT: must be an error

  bool ok() const { return value_.has_value(); }
  const Status& status() const { return status_; }
  const std::string& error() const { return status_.message(); }
  T& value() { return *value_; }
  const T& value() const { return *value_; }
  T* operator->() { return &*value_; }
  const T* operator->() const { return &*value_; }

 private:
  std::optional<T> value_;
  Status status_ = Status::Ok();
};

}  // namespace redkube
