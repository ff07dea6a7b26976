//===- PackedWeights.cpp - conv weights read in place ---------------------===//

#include "lib/Runtime/Cpu/PackedWeights.h"
#include "lib/Runtime/Interleaved.h"

#include <fmt/format.h>

#include <optional>
#include <vector>

namespace ane::runtime {
namespace {

/// An argument, or (iOS16 constexpr ops) an attribute of the same name.
const mil::Value *param(const mil::Statement &st, const char *name) {
  const mil::Value *v = st.arg(name);
  return v ? v : st.attr(name);
}

/// A typed BLOBFILE value of `dtype` and rank `rank`, or null.
const mil::Value *blobOf(const mil::Value *v, mil::DType dtype, size_t rank) {
  if (!v || !v->isBlobFile() || !v->type || v->type->dtype != dtype ||
      v->type->dims.size() != rank)
    return nullptr;
  for (int64_t d : v->type->dims)
    if (d <= 0)
      return nullptr;
  return v;
}

/// [O, I, 1, 1] dims as (rows, cols), or (0, 0).
std::pair<int64_t, int64_t> matrixDims(const mil::Value *v) {
  const auto &d = v->type->dims;
  if (d.size() != 4 || d[2] != 1 || d[3] != 1)
    return {0, 0};
  return {d[0], d[1]};
}

bool matchConst(const mil::Statement &def, PackedWeightSource &s) {
  const mil::Value *val = def.attr("val");
  for (auto [dtype, format] :
       {std::pair{mil::DType::FP16, PackedWeight::Format::F16},
        std::pair{mil::DType::FP32, PackedWeight::Format::F32}})
    if (const mil::Value *b = blobOf(val, dtype, 4)) {
      std::tie(s.rows, s.cols) = matrixDims(b);
      s.format = format;
      s.data = b;
      return s.rows > 0;
    }
  return false;
}

bool matchBlockwise(const mil::Statement &def, PackedWeightSource &s) {
  if (param(def, "offset"))
    return false;
  const mil::Value *scale = blobOf(param(def, "scale"), mil::DType::FP16, 4);
  for (auto [dtype, format] :
       {std::pair{mil::DType::Int4, PackedWeight::Format::Q4},
        std::pair{mil::DType::Int8, PackedWeight::Format::Q8}})
    if (const mil::Value *data = blobOf(param(def, "data"), dtype, 4)) {
      auto [rows, cols] = matrixDims(data);
      auto [sRows, groups] = scale ? matrixDims(scale) : std::pair{0L, 0L};
      if (rows == 0 || sRows != rows || groups <= 0 || cols % groups != 0)
        return false;
      s = {format, rows, cols, cols / groups, data, scale, nullptr};
      return true;
    }
  return false;
}

bool matchAffine(const mil::Statement &def, PackedWeightSource &s) {
  const mil::Value *axis = param(def, "axis");
  const mil::Value *data =
      blobOf(param(def, "quantized_data"), mil::DType::Int8, 4);
  const mil::Value *scale = blobOf(param(def, "scale"), mil::DType::FP16, 1);
  const mil::Value *zero =
      blobOf(param(def, "zero_point"), mil::DType::Int8, 1);
  if (!data || !scale || !zero || !axis ||
      axis->kind != mil::Value::Kind::Typed || axis->items.size() != 1 ||
      axis->items[0].kind != mil::Value::Kind::Int ||
      axis->items[0].intValue != 0)
    return false;
  auto [rows, cols] = matrixDims(data);
  if (rows == 0 || scale->type->dims[0] != rows || zero->type->dims[0] != rows)
    return false;
  s = {PackedWeight::Format::Q8, rows, cols, cols, data, scale, zero};
  return true;
}

/// iOS18 `constexpr_lut_to_dense`: uint4 indices [O, I, 1, 1] and fp16
/// palettes [O, I / group, 1, 1, 16, 1], one per group of a row.
bool matchLut(const mil::Statement &def, PackedWeightSource &s) {
  if (param(def, "shape"))
    return false; // the iOS16 form: one flat palette
  const mil::Value *indices =
      blobOf(param(def, "indices"), mil::DType::UInt4, 4);
  const mil::Value *lut = blobOf(param(def, "lut"), mil::DType::FP16, 6);
  if (!indices || !lut)
    return false;
  auto [rows, cols] = matrixDims(indices);
  const auto &d = lut->type->dims;
  if (rows == 0 || d[0] != rows || d[1] <= 0 || cols % d[1] != 0 || d[2] != 1 ||
      d[3] != 1 || d[4] != 16 || d[5] != 1)
    return false;
  s = {PackedWeight::Format::Lut4,
       rows,
       cols,
       cols / d[1],
       indices,
       lut,
       nullptr};
  return true;
}

bool matchSource(const mil::Statement &st, PackedWeightSource &s) {
  bool matched =
      (st.op == "const" && matchConst(st, s)) ||
      (st.op == "constexpr_blockwise_shift_scale" && matchBlockwise(st, s)) ||
      (st.op == "constexpr_affine_dequantize" && matchAffine(st, s)) ||
      (st.op == "constexpr_lut_to_dense" && matchLut(st, s));
  return matched && st.outputs.size() == 1 &&
         st.outputs[0].type.dims == mil::Shape{s.rows, s.cols, 1, 1};
}

/// The integers of a constant tensor argument (inline or a `const`).
std::optional<std::vector<int64_t>>
constInts(const mil::Value *v,
          const std::map<std::string, const mil::Statement *> &defs) {
  if (v && v->kind == mil::Value::Kind::Ref) {
    auto def = defs.find(v->text);
    if (def == defs.end() || def->second->op != "const")
      return std::nullopt;
    v = def->second->attr("val");
  }
  if (v && v->kind == mil::Value::Kind::Typed && v->items.size() == 1)
    v = &v->items[0];
  if (!v || v->kind != mil::Value::Kind::List)
    return std::nullopt;
  std::vector<int64_t> out;
  for (const mil::Value &item : v->items) {
    if (item.kind != mil::Value::Kind::Int)
      return std::nullopt;
    out.push_back(item.intValue);
  }
  return out;
}

/// Bytes of one row of `s`'s blob, or 0 if a row does not start on a byte.
int64_t rowBytes(const PackedWeightSource &s) {
  switch (s.format) {
  case PackedWeight::Format::F32:
    return s.cols * 4;
  case PackedWeight::Format::F16:
    return s.cols * 2;
  case PackedWeight::Format::Q8:
    return s.cols;
  case PackedWeight::Format::Q4:
  case PackedWeight::Format::Q4Interleaved:
  case PackedWeight::Format::Lut4:
    return s.cols % 2 == 0 ? s.cols / 2 : 0;
  }
  return 0;
}

/// The row ranges anemil-legalize-ane tiles wide convs into (see the file
/// comment), added to `found`.
void findRowRanges(const mil::Function &fn,
                   const std::map<std::string, const mil::Statement *> &defs,
                   std::map<std::string, int> &uses,
                   std::map<std::string, int> &weightUses,
                   std::map<std::string, PackedWeightSource> &found) {
  std::map<std::string, std::vector<std::pair<std::string, PackedWeightSource>>>
      ranges; // by the value sliced
  for (const mil::Statement &st : fn.body) {
    if (st.op != "slice_by_size" || st.outputs.size() != 1)
      continue;
    const std::string &out = st.outputs[0].name;
    const mil::Value *x = st.arg("x");
    if (!x || x->kind != mil::Value::Kind::Ref || weightUses[out] == 0 ||
        weightUses[out] != uses[out])
      continue;
    auto base = defs.find(x->text);
    PackedWeightSource s;
    if (base == defs.end() || !matchSource(*base->second, s) ||
        rowBytes(s) == 0)
      continue;
    auto begin = constInts(st.arg("begin"), defs);
    auto size = constInts(st.arg("size"), defs);
    if (!begin || !size ||
        *begin != std::vector<int64_t>{(*begin)[0], 0, 0, 0} ||
        *size != std::vector<int64_t>{(*size)[0], s.cols, 1, 1} ||
        (*begin)[0] < 0 || (*size)[0] <= 0 || (*begin)[0] + (*size)[0] > s.rows)
      continue;
    s.viewOf = x->text;
    s.rowOffset = (*begin)[0];
    s.rows = (*size)[0];
    ranges[x->text].push_back({out, s});
  }
  // Only when every use of the sliced weight is such a range: then it is
  // never needed whole.
  for (auto &[base, list] : ranges)
    if (int(list.size()) == uses[base])
      for (auto &[out, s] : list)
        found.emplace(out, s);
}

} // namespace

std::map<std::string, PackedWeightSource>
findPackedWeights(const mil::Function &fn) {
  std::map<std::string, const mil::Statement *> defs;
  std::map<std::string, int> uses, weightUses;
  for (const mil::Statement &st : fn.body) {
    for (const auto &out : st.outputs)
      defs[out.name] = &st;
    for (const auto &[name, value] : st.args) {
      // Tuples of refs (concat) count each element.
      std::vector<const mil::Value *> refs = {&value};
      for (const mil::Value &item : value.items)
        refs.push_back(&item);
      for (const mil::Value *r : refs)
        if (r->kind == mil::Value::Kind::Ref) {
          ++uses[r->text];
          if (st.op == "conv" && name == "weight")
            ++weightUses[r->text];
        }
    }
  }
  for (const std::string &out : fn.outputs)
    ++uses[out];
  std::map<std::string, PackedWeightSource> found;
  for (const auto &[name, count] : weightUses) {
    auto def = defs.find(name);
    if (def == defs.end() || uses[name] != count)
      continue;
    PackedWeightSource s;
    if (matchSource(*def->second, s))
      found.emplace(name, s);
  }
  findRowRanges(fn, defs, uses, weightUses, found);
  return found;
}

namespace {

/// Whether `s` reads interleaved blobs, checking that it reads them as
/// the layout allows: int4 codes and their scales, whole row blocks.
Result<bool> readsInterleaved(const PackedWeightSource &s,
                              const std::set<uint64_t> &interleaved) {
  auto among = [&](const mil::Value *v) {
    return v && interleaved.count(v->blobOffset()) > 0;
  };
  bool data = among(s.data), scales = among(s.scales);
  if (!data && !scales)
    return false;
  if (s.format != PackedWeight::Format::Q4 || !data || !scales ||
      s.zeroPoints || s.rows % interleaved::kRows ||
      s.rowOffset % interleaved::kRows ||
      !interleaved::fits(s.rows, s.cols, s.group))
    return Status::error(fmt::format(
        "the blobs at offsets {} and {} hold the cpu backend's interleaved "
        "layout, which this weight ([{}, {}], group {}, rows from {}) cannot "
        "read",
        s.data->blobOffset(), s.scales ? s.scales->blobOffset() : 0, s.rows,
        s.cols, s.group, s.rowOffset));
  return true;
}

} // namespace

Result<PackedWeight>
bindPackedWeight(const PackedWeightSource &s,
                 const std::map<std::string, mil::WeightReader> &files,
                 const std::set<uint64_t> &interleavedBlobs) {
  auto layout = readsInterleaved(s, interleavedBlobs);
  if (!layout.ok())
    return layout.status();
  auto bytesOf = [&](const mil::Value *v) -> Result<const uint8_t *> {
    if (!v)
      return static_cast<const uint8_t *>(nullptr);
    auto file = files.find(v->blobPath());
    if (file == files.end())
      return Status::error(fmt::format(
          "no weight file given for BLOBFILE path '{}'", v->blobPath()));
    auto blob = file->second.blob(v->blobOffset());
    if (!blob.ok())
      return blob.status();
    int64_t count = 1;
    for (int64_t d : v->type->dims)
      count *= d;
    auto want = mil::blobDTypeFor(v->type->dtype);
    if (!want || *want != blob->dtype ||
        blob->elementCount() != uint64_t(count))
      return Status::error(fmt::format(
          "{}: blob at offset {} is not the {} {} the text declares",
          file->second.name(), v->blobOffset(), mil::dtypeName(v->type->dtype),
          mil::formatShape(v->type->dims)));
    return blob->data;
  };
  PackedWeight w;
  w.format = s.format;
  w.rows = s.rows;
  w.cols = s.cols;
  w.group = s.group;
  auto data = bytesOf(s.data);
  auto scales = bytesOf(s.scales);
  auto zeros = bytesOf(s.zeroPoints);
  if (!data.ok())
    return data.status();
  if (!scales.ok())
    return scales.status();
  if (!zeros.ok())
    return zeros.status();
  w.data = *data;
  w.scales = *scales;
  w.zeroPoints = *zeros;
  if (*layout)
    w.format = PackedWeight::Format::Q4Interleaved;
  // A row range of whole 16-row blocks starts as many bytes on in either
  // layout.
  if (s.rowOffset > 0) {
    // A row range: every per-row array starts rowOffset rows further on.
    int64_t groups = s.group > 0 ? s.cols / s.group : 0;
    int64_t scaleBytes =
        s.format == PackedWeight::Format::Lut4 ? groups * 32 : groups * 2;
    w.data += s.rowOffset * rowBytes(s);
    if (w.scales)
      w.scales += s.rowOffset * scaleBytes;
    if (w.zeroPoints)
      w.zeroPoints += s.rowOffset;
  }
  return w;
}

} // namespace ane::runtime
