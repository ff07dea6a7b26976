//===- Schemes.cpp - how kernels store and receive weights ----------------===//

#include "lib/Abi/Schemes.h"

#include <array>
#include <utility>

namespace ane::abi {
namespace {

/// Looks `name` up in a table of (value, name) pairs.
template <typename E, size_t N>
std::optional<E> lookup(const std::array<std::pair<E, std::string_view>, N> &t,
                        std::string_view name) {
  for (const auto &[value, spelling] : t)
    if (spelling == name)
      return value;
  return std::nullopt;
}

template <typename E, size_t N>
std::string_view
nameIn(const std::array<std::pair<E, std::string_view>, N> &t, E value) {
  for (const auto &[v, spelling] : t)
    if (v == value)
      return spelling;
  return "?";
}

constexpr std::array<std::pair<Scheme, std::string_view>, 5> kSchemes = {{
    {Scheme::F16, "f16"},
    {Scheme::Q8, "q8"},
    {Scheme::Q4, "q4"},
    {Scheme::Q3, "q3"},
    {Scheme::Lut4, "lut4"},
}};
constexpr std::array<std::pair<DType, std::string_view>, 2> kDTypes = {{
    {DType::FP16, "fp16"},
    {DType::FP32, "fp32"},
}};
constexpr std::array<std::pair<WeightBinding, std::string_view>, 2>
    kBindings = {{
        {WeightBinding::Blob, "blob"},
        {WeightBinding::Input, "input"},
    }};
constexpr std::array<std::pair<Segment, std::string_view>, 2> kSegments = {{
    {Segment::Layer, "layer"},
    {Segment::Global, "global"},
}};

} // namespace

std::string_view schemeName(Scheme s) { return nameIn(kSchemes, s); }

std::optional<Scheme> parseScheme(std::string_view name) {
  if (name == "dense")
    return Scheme::F16;
  return lookup(kSchemes, name);
}

std::string_view schemeNames() { return "f16, q8, q4, q3, lut4"; }

int schemeBits(Scheme s) {
  switch (s) {
  case Scheme::F16:
    return 16;
  case Scheme::Q8:
    return 8;
  case Scheme::Q3:
    return 3;
  case Scheme::Q4:
  case Scheme::Lut4:
    return 4;
  }
  return 16;
}

int64_t defaultGroup(Scheme s) {
  switch (s) {
  case Scheme::Q4:
    return 128;
  case Scheme::Q3:
    return 64;
  case Scheme::Lut4:
    return 16;
  case Scheme::F16:
  case Scheme::Q8:
    return 0;
  }
  return 0;
}

std::string_view dtypeName(DType d) { return nameIn(kDTypes, d); }
std::optional<DType> parseDType(std::string_view name) {
  return lookup(kDTypes, name);
}

std::optional<DType> fromMil(mil::DType d) {
  if (d == mil::DType::FP16)
    return DType::FP16;
  if (d == mil::DType::FP32)
    return DType::FP32;
  return std::nullopt;
}

std::string_view weightBindingName(WeightBinding b) {
  return nameIn(kBindings, b);
}
std::optional<WeightBinding> parseWeightBinding(std::string_view name) {
  return lookup(kBindings, name);
}

std::string_view segmentName(Segment s) { return nameIn(kSegments, s); }
std::optional<Segment> parseSegment(std::string_view name) {
  return lookup(kSegments, name);
}

} // namespace ane::abi
