//===- AneSurface.cpp - fp16 [1, C, 1, S] I/O surfaces --------------------===//

#include "lib/Runtime/Ane/AneSurface.h"

#include "lib/MIL/Text.h"
#include "lib/Support/Float16.h"

#include <fmt/format.h>

#include <atomic>
#include <cstring>

namespace ane::runtime {

Result<mil::Shape> aneSurfaceShape(const mil::Type &type,
                                   const std::string &what) {
  const std::vector<int64_t> &d = type.dims;
  bool layout = type.kind == mil::Type::Kind::Tensor && d.size() == 4 &&
                d[0] == 1 && d[1] > 0 && d[2] > 0 && d[3] > 0;
  if (!layout || type.dtype != mil::DType::FP16)
    return Status::error(fmt::format(
        "{} is {}; the ANE takes fp16 surfaces of rank 4, batch 1 (cast "
        "other types in the program)",
        what, mil::printType(type, false)));
  return d;
}

AneSurface::AneSurface(mil::Shape shape)
    : shape_(std::move(shape)),
      rowBytes_((size_t(shape_[3]) * 2 + kAneRowAlignment - 1) /
                kAneRowAlignment * kAneRowAlignment),
      bytes_(rowBytes_ * size_t(rows()), 0) {
  touch();
}

void AneSurface::touch() {
  static std::atomic<uint64_t> versions{0};
  version_ = ++versions;
}

Status AneSurface::write(const Tensor &t) {
  const int64_t w = width();
  if (!t.isFloat() || t.numElements() != rows() * w)
    return Status::error(fmt::format(
        "a surface of [1, {}, {}, {}] cannot hold a {} tensor of {} elements",
        shape_[1], shape_[2], w, mil::dtypeName(t.dtype), t.numElements()));
  for (int64_t r = 0; r < rows(); ++r) {
    auto *row = reinterpret_cast<uint16_t *>(bytes_.data() + r * rowBytes_);
    if (t.halfStored) {
      std::memcpy(row, t.halfs() + r * w, size_t(w) * 2);
      continue;
    }
    const float *src = t.values() + r * w;
    for (int64_t k = 0; k < w; ++k)
      row[k] = floatToHalfBits(src[k]);
  }
  touch();
  return Status::success();
}

Tensor AneSurface::read() const {
  const int64_t w = width();
  std::vector<float> values(size_t(rows() * w));
  for (int64_t r = 0; r < rows(); ++r) {
    const auto *row =
        reinterpret_cast<const uint16_t *>(bytes_.data() + r * rowBytes_);
    for (int64_t k = 0; k < w; ++k)
      values[size_t(r * w + k)] = halfBitsToFloat(row[k]);
  }
  return Tensor::floats(mil::DType::FP16, shape_, std::move(values));
}

} // namespace ane::runtime
