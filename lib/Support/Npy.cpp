//===- Npy.cpp - float32 arrays for NumPy (.npy) --------------------------===//

#include "lib/Support/Npy.h"

#include <cerrno>
#include <cstring>

namespace ane {

std::string npyHeader(uint64_t rows, uint64_t cols) {
  std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (" +
                     std::to_string(rows) + ", " + std::to_string(cols) +
                     "), }";
  // Magic (6), version (2) and the header length (2) come first; the
  // header ends in a newline and pads the data to 64 bytes.
  size_t total = 10 + dict.size() + 1;
  size_t padded = (total + 63) / 64 * 64;
  dict.append(padded - total, ' ');
  dict += '\n';
  std::string out("\x93NUMPY\x01\x00", 8);
  out += char(dict.size() & 0xff);
  out += char(dict.size() >> 8);
  return out + dict;
}

Result<NpyWriter> NpyWriter::create(const std::string &path, uint64_t rows,
                                    uint64_t cols) {
  if (cols == 0 || rows > (uint64_t(1) << 40) / cols)
    return Status::error(path + ": " + std::to_string(rows) + " x " +
                         std::to_string(cols) +
                         " is not a shape to write logits in");
  NpyWriter w;
  w.file.reset(std::fopen(path.c_str(), "wb"));
  if (!w.file)
    return Status::error(path + ": cannot create: " + std::strerror(errno));
  w.path = path;
  w.rows = rows;
  w.cols_ = cols;
  std::string header = npyHeader(rows, cols);
  if (std::fwrite(header.data(), 1, header.size(), w.file.get()) !=
      header.size())
    return Status::error(path + ": cannot write: " + std::strerror(errno));
  return w;
}

Status NpyWriter::appendRow(const float *row) {
  if (!file)
    return Status::error(path + ": already closed");
  if (written == rows)
    return Status::error(path + ": all " + std::to_string(rows) +
                         " rows are written");
  // .npy says little-endian; so is every host this runs on.
  static_assert(sizeof(float) == 4, "float32 rows");
  if (std::fwrite(row, sizeof(float), cols_, file.get()) != cols_)
    return Status::error(path + ": cannot write row " +
                         std::to_string(written) + ": " + std::strerror(errno));
  ++written;
  return Status::success();
}

Status NpyWriter::finish() {
  if (!file)
    return Status::error(path + ": already closed");
  bool flushed = std::fflush(file.get()) == 0;
  file.reset();
  if (!flushed)
    return Status::error(path + ": cannot write: " + std::strerror(errno));
  if (written != rows)
    return Status::error(path + ": " + std::to_string(written) + " of " +
                         std::to_string(rows) + " rows written");
  return Status::success();
}

} // namespace ane
