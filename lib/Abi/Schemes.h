//===- Schemes.h - how kernels store and receive weights --------*- C++ -*-===//
//
// The vocabulary the compiler and the runtime share: a weight storage scheme,
// the kernels' compute type, how weights reach a kernel, and which segment a
// weight lives in. Strings are parsed into these once, at the command line or
// pass-option edge; everything past that compares enums. Plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_ABI_SCHEMES_H
#define ANE_LIB_ABI_SCHEMES_H

#include "lib/MIL/Program.h"

#include <cstdint>
#include <optional>
#include <string_view>

namespace ane::abi {

/// How a weight matrix is stored. `F16` is not quantized: the weight keeps
/// the kernels' float type (fp16, or fp32 in an fp32 kernel set).
enum class Scheme : uint8_t { F16, Q8, Q4, Q3, Lut4 };

std::string_view schemeName(Scheme scheme);
/// Also takes "dense", the spelling of unquantized slots in version 1
/// manifests.
std::optional<Scheme> parseScheme(std::string_view name);
/// "f16, q8, q4, q3, lut4", for messages.
std::string_view schemeNames();
inline bool isQuantized(Scheme s) { return s != Scheme::F16; }
/// Bits of information per weight (q3 is stored in int4 blobs).
int schemeBits(Scheme scheme);
/// The group along in-features a scheme uses when none is asked for
/// (0: one group per row).
int64_t defaultGroup(Scheme scheme);

/// The float type every kernel of a set computes in.
enum class DType : uint8_t { FP16, FP32 };

std::string_view dtypeName(DType dtype);
std::optional<DType> parseDType(std::string_view name);
inline mil::DType toMil(DType d) {
  return d == DType::FP16 ? mil::DType::FP16 : mil::DType::FP32;
}
/// FP16 or FP32; anything else is not a compute type.
std::optional<DType> fromMil(mil::DType dtype);

/// How a layer's weights reach a kernel (DESIGN.md section 4).
enum class WeightBinding : uint8_t {
  Blob,  ///< BLOBFILE constants; a swap presents another segment.
  Input, ///< extra program inputs; a swap passes other buffers.
};

std::string_view weightBindingName(WeightBinding binding);
std::optional<WeightBinding> parseWeightBinding(std::string_view name);

/// Where a weight slot lives: in every layer's segment, or once.
enum class Segment : uint8_t { Layer, Global };

std::string_view segmentName(Segment segment);
std::optional<Segment> parseSegment(std::string_view name);

} // namespace ane::abi

#endif // ANE_LIB_ABI_SCHEMES_H
