//===- Probe.h - what a Neural Engine actually does --------------*- C++
//-*-===//
//
// `ane-exec probe`: the questions the design leaves open (DESIGN.md s.4),
// asked of an AneDevice and answered in one JSON report a Mac user can paste
// into an issue:
//   G1  does a weight rewrite followed by unload + load take effect, and
//       what does the reload cost;
//   G2  do sin and cos compile, and are they right;
//   the latency of one evaluation, the number of compiles a process gets,
//   and the weight-stream bandwidth of a large conv.
// On the simulator every time is its model's (the report says so); on
// hardware times are measured with a steady clock.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANE_PROBE_H
#define ANE_LIB_RUNTIME_ANE_PROBE_H

#include "lib/Runtime/Ane/AneDevice.h"

#include <string>

namespace ane::runtime {

struct ProbeOptions {
  /// The large conv of the bandwidth probe and of G1: [rows, channels].
  int64_t streamRows = 4096;
  int64_t streamChannels = 4096;
  int streamCalls = 8;
  int latencyCalls = 100;
  /// The compile-ceiling probe stops here if compiles never fail.
  int ceilingCap = 200;
};

struct ProbeReport {
  std::string device;
  bool simulated = false;
  struct {
    bool takesEffect = false;
    double reloadMs = 0;      // unload + load of the G1 program
    uint64_t weightBytes = 0; // its weight file
    std::string error;
  } g1;
  struct {
    bool compiles = false;
    bool correct = false;
    double maxError = 0;
    std::string error;
  } g2;
  double evalLatencyMs = 0;
  int64_t compileCeiling = 0;  // compiles that succeeded in this process
  bool ceilingReached = false; // a compile failed before ceilingCap
  std::string ceilingError;
  double weightStreamGBs = 0;

  std::string toJson() const;
};

/// G1 alone, on a small conv (one compile): whether a rewrite of the weight
/// buffer a program was compiled with, then unload + load, changes its
/// output. An error when the probe itself fails.
Result<bool> reloadTakesEffect(AneDevice &device);

/// Runs every probe on `device`, the compile ceiling last (it spends the
/// process's budget). `simulated`: times come from the device's model.
ProbeReport runAneProbe(AneDevice &device, bool simulated,
                        const ProbeOptions &options = {});

} // namespace ane::runtime

#endif // ANE_LIB_RUNTIME_ANE_PROBE_H
