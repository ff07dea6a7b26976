//===- PrivateAneDevice.h - the ANE through Apple's private API -*- C++ -*-===//
//
// An AneDevice over the private AppleNeuralEngine framework, in
// Objective-C++ (PrivateAneDevice.mm). Built on macOS for the hardware, and
// on Linux with gobjc++ and GNUstep against test stand-ins of the private
// classes and of IOSurface (test/unittests/AneShim), so every message send
// and the surface copies run in CI. It has never run on a Mac.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANE_SHIM_PRIVATEANEDEVICE_H
#define ANE_LIB_RUNTIME_ANE_SHIM_PRIVATEANEDEVICE_H

#include "lib/Runtime/Ane/AneDevice.h"

#include <memory>
#include <string>

namespace ane::runtime {

struct PrivateAneOptions {
  /// The framework binary to dlopen; empty when the classes are linked in
  /// (the Linux stand-ins).
  std::string frameworkPath = "/System/Library/PrivateFrameworks/"
                              "AppleNeuralEngine.framework/AppleNeuralEngine";
  /// Loads that fail are retried this many times, `retryDelayMs` apart
  /// (public code reports that one retry after ~100 ms is common).
  int loadRetries = 1;
  int retryDelayMs = 100;
};

Result<std::unique_ptr<AneDevice>>
createPrivateAneDevice(const PrivateAneOptions &options = {});

/// Whether the Objective-C class `name` exists; the error names it and
/// suggests --backend cpu.
Status requireAneClass(const std::string &name);

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ANE_SHIM_PRIVATEANEDEVICE_H
