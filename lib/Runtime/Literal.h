//===- Literal.h - MIL literals as host tensors -----------------*- C++ -*-===//
//
// Decodes a typed MIL literal, inline or a BLOBFILE reference into a
// weight.bin, into a Tensor: what the executor does for const statements,
// and the engine for weights passed as kernel inputs. Plain C++17.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_LITERAL_H
#define ANE_LIB_RUNTIME_LITERAL_H

#include "lib/MIL/Program.h"
#include "lib/MIL/WeightFile.h"
#include "lib/Runtime/Tensor.h"
#include "lib/Support/Result.h"

#include <map>
#include <string>

namespace ane::runtime {

/// BLOBFILE paths (as written in the text, e.g.
/// "@model_path/weights/weight.bin") to the files they name.
using WeightFiles = std::map<std::string, mil::WeightReader>;

/// Decodes a typed MIL literal (inline or BLOBFILE) into a tensor.
Result<Tensor> decodeLiteral(const mil::Value &typed,
                             const WeightFiles &weights);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_LITERAL_H
