//===- Npy.h - float32 arrays for NumPy (.npy) ------------------*- C++ -*-===//
//
// `--logits-out` writes logits as NumPy's .npy (format 1.0): the magic, a
// header naming dtype '<f4', C order and the shape, padded so the data
// starts at a multiple of 64 bytes, then the values. Rows are appended as
// they are computed, so a long run never holds them all.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SUPPORT_NPY_H
#define ANE_LIB_SUPPORT_NPY_H

#include "lib/Support/Result.h"

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

namespace ane {

/// The header of a float32 [rows, cols] .npy file, padding included.
std::string npyHeader(uint64_t rows, uint64_t cols);

class NpyWriter {
public:
  /// Creates `path` (replacing it) for `rows` rows of `cols` floats.
  static Result<NpyWriter> create(const std::string &path, uint64_t rows,
                                  uint64_t cols);
  /// Appends one row of cols() floats.
  Status appendRow(const float *row);
  /// Closes the file; an error if fewer rows than promised were written.
  Status finish();

  uint64_t cols() const { return cols_; }

private:
  struct Close {
    void operator()(std::FILE *f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, Close> file;
  std::string path;
  uint64_t rows = 0, cols_ = 0, written = 0;
};

} // namespace ane

#endif // ANE_LIB_SUPPORT_NPY_H
