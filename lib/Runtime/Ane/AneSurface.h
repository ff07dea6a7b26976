//===- AneSurface.h - fp16 [1, C, 1, S] I/O surfaces ------------*- C++ -*-===//
//
// The ANE reads and writes tensors as IOSurfaces: flat byte buffers of fp16,
// rank 4 with a batch of 1, preferably [1, C, 1, S]. Each row of the last
// axis (S values, for every C and H) starts on a 64-byte boundary. This is
// the one packing code, used by the simulator and by the macOS shim.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANE_ANESURFACE_H
#define ANE_LIB_RUNTIME_ANE_ANESURFACE_H

#include "lib/MIL/Program.h"
#include "lib/Runtime/Tensor.h"
#include "lib/Support/Result.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace ane::runtime {

/// Row alignment of an ANE surface, in bytes.
inline constexpr size_t kAneRowAlignment = 64;

/// The shape of a MIL tensor type the ANE can take as input or output:
/// fp16 [1, C, H, W]; else an error naming `what`.
Result<mil::Shape> aneSurfaceShape(const mil::Type &type,
                                   const std::string &what);

class AneSurface {
public:
  /// `shape` is [1, C, H, W] with positive sizes.
  explicit AneSurface(mil::Shape shape);

  const mil::Shape &shape() const { return shape_; }
  /// C * H rows of W values.
  int64_t rows() const { return shape_[1] * shape_[2]; }
  int64_t width() const { return shape_[3]; }
  /// Bytes from one row to the next (W fp16 values, padded).
  size_t rowBytes() const { return rowBytes_; }
  size_t byteSize() const { return bytes_.size(); }
  uint8_t *data() { return bytes_.data(); }
  const uint8_t *data() const { return bytes_.data(); }
  /// Changes with every write, and differs between any two surfaces of the
  /// process, so a reader may cache what it decoded by version alone.
  uint64_t version() const { return version_; }
  /// Marks the bytes as changed (after writing through data()).
  void touch();

  /// Stores `t` (any float storage, as many elements) as fp16; the row
  /// padding stays zero.
  Status write(const Tensor &t);
  /// The surface as an fp16 tensor of its shape.
  Tensor read() const;

private:
  mil::Shape shape_;
  size_t rowBytes_;
  std::vector<uint8_t> bytes_;
  uint64_t version_ = 0;
};

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ANE_ANESURFACE_H
