//===- GGUFWriter.h - GGUF v3 files in memory -------------------*- C++ -*-===//
//
// What ane-exec writes as GGUF (LoRA adapters) and what tests build models
// and damaged files with. The reader is GGUF.h.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_MODEL_GGUFWRITER_H
#define ANE_LIB_MODEL_GGUFWRITER_H

#include "lib/Model/GGUF.h"
#include "lib/Support/Result.h"

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace ane::model {

/// Builds a GGUF v3 file in memory: metadata, then tensors in order.
class GGUFWriter {
public:
  explicit GGUFWriter(uint32_t version = 3, uint64_t alignment = 32)
      : version(version), alignment(alignment) {}

  void u32(const std::string &k, uint32_t v) { kv(k, 4, &v, 4); }
  void i32(const std::string &k, int32_t v) { kv(k, 5, &v, 4); }
  void f32(const std::string &k, float v) { kv(k, 6, &v, 4); }
  void u8(const std::string &k, uint8_t v) { kv(k, 0, &v, 1); }
  void i8(const std::string &k, int8_t v) { kv(k, 1, &v, 1); }
  void u16(const std::string &k, uint16_t v) { kv(k, 2, &v, 2); }
  void i16(const std::string &k, int16_t v) { kv(k, 3, &v, 2); }
  void boolean(const std::string &k, bool v) {
    uint8_t b = v;
    kv(k, 7, &b, 1);
  }
  void u64(const std::string &k, uint64_t v) { kv(k, 10, &v, 8); }
  void i64(const std::string &k, int64_t v) { kv(k, 11, &v, 8); }
  void f64(const std::string &k, double v) { kv(k, 12, &v, 8); }
  void str(const std::string &k, const std::string &v) {
    key(k, 8);
    string(meta, v);
    ++nKv;
  }
  void strings(const std::string &k, const std::vector<std::string> &v) {
    key(k, 9);
    put(meta, uint32_t(8));
    put(meta, uint64_t(v.size()));
    for (const std::string &s : v)
      string(meta, s);
    ++nKv;
  }
  template <typename T>
  void array(const std::string &k, uint32_t type, const std::vector<T> &v) {
    key(k, 9);
    put(meta, type);
    put(meta, uint64_t(v.size()));
    for (const T &x : v)
      put(meta, x);
    ++nKv;
  }

  /// `ne` in ggml order (innermost first); `bytes` is the raw data.
  void tensor(const std::string &name, std::vector<uint64_t> ne,
              uint32_t ggmlType, const std::vector<uint8_t> &bytes) {
    string(infos, name);
    put(infos, uint32_t(ne.size()));
    for (uint64_t d : ne)
      put(infos, d);
    put(infos, ggmlType);
    while (data.size() % alignment)
      data.push_back(0);
    put(infos, uint64_t(data.size()));
    data.insert(data.end(), bytes.begin(), bytes.end());
    ++nTensors;
  }

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> out;
    put(out, uint32_t(0x46554747));
    put(out, version);
    put(out, nTensors);
    put(out, nKv);
    out.insert(out.end(), meta.begin(), meta.end());
    out.insert(out.end(), infos.begin(), infos.end());
    while (out.size() % alignment)
      out.push_back(0);
    out.insert(out.end(), data.begin(), data.end());
    return out;
  }

  /// Writes the file whole or not at all: a temporary beside `path`,
  /// renamed over it once every byte is written.
  Status write(const std::string &path) const {
    std::vector<uint8_t> b = bytes();
    std::string tmp = path + ".tmp";
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      out.write(reinterpret_cast<const char *>(b.data()),
                std::streamsize(b.size()));
      out.close();
      if (!out) {
        std::remove(tmp.c_str());
        return Status::error("cannot write " + path);
      }
    }
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      std::remove(tmp.c_str());
      return Status::error("cannot write " + path);
    }
    return Status::success();
  }

private:
  template <typename T> static void put(std::vector<uint8_t> &b, T v) {
    uint8_t raw[sizeof(T)];
    std::memcpy(raw, &v, sizeof(T));
    b.insert(b.end(), raw, raw + sizeof(T));
  }
  static void string(std::vector<uint8_t> &b, const std::string &s) {
    put(b, uint64_t(s.size()));
    b.insert(b.end(), s.begin(), s.end());
  }
  void key(const std::string &k, uint32_t type) {
    string(meta, k);
    put(meta, type);
  }
  void kv(const std::string &k, uint32_t type, const void *v, size_t n) {
    key(k, type);
    const uint8_t *p = static_cast<const uint8_t *>(v);
    meta.insert(meta.end(), p, p + n);
    ++nKv;
  }

  uint32_t version;
  uint64_t alignment;
  uint64_t nTensors = 0, nKv = 0;
  std::vector<uint8_t> meta, infos, data;
};

} // namespace ane::model

#endif // ANE_LIB_MODEL_GGUFWRITER_H
