//===- Result.h - errors as values ------------------------------*- C++ -*-===//
//
// The MLIR-free libraries (MIL, Model, Runtime) report failures as values so
// they can be called from code built without exceptions. Header-only.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SUPPORT_RESULT_H
#define ANE_LIB_SUPPORT_RESULT_H

#include <cassert>
#include <optional>
#include <string>
#include <utility>

namespace ane {

/// Success, or a human-readable message saying what went wrong and where.
class [[nodiscard]] Status {
public:
  static Status success() { return Status(); }
  static Status error(std::string message) {
    Status s;
    s.message_ = message.empty() ? "unknown error" : std::move(message);
    return s;
  }
  bool ok() const { return message_.empty(); }
  const std::string &message() const { return message_; }

private:
  std::string message_;
};

/// A value of type T, or an error message.
template <typename T> class [[nodiscard]] Result {
public:
  Result(T value) : value_(std::move(value)) {}
  Result(Status status) : error_(std::move(status)) {
    assert(!error_.ok() && "a Result needs a value or an error");
  }
  static Result error(std::string message) {
    return Result(Status::error(std::move(message)));
  }

  bool ok() const { return value_.has_value(); }
  const std::string &message() const { return error_.message(); }
  Status status() const { return ok() ? Status::success() : error_; }

  T &value() & { return *value_; }
  const T &value() const & { return *value_; }
  T &&value() && { return std::move(*value_); }
  T *operator->() { return &*value_; }
  const T *operator->() const { return &*value_; }
  T &operator*() { return *value_; }
  const T &operator*() const { return *value_; }

private:
  std::optional<T> value_;
  Status error_;
};

} // namespace ane

#endif // ANE_LIB_SUPPORT_RESULT_H
