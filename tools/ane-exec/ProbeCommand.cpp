//===- ProbeCommand.cpp - ane-exec probe ----------------------------------===//
//
// Asks a Neural Engine what the design could not know (lib/Runtime/Ane/
// Probe.h) and prints one JSON report. Where there is no ANE (Linux) it
// asks the simulator and says so first: its answers are the model's.
//
//===----------------------------------------------------------------------===//

#include "tools/ane-exec/Commands.h"
#include "tools/ane-exec/ModelLoader.h"

#include "lib/Runtime/Ane/AneBackend.h"
#include "lib/Runtime/Ane/Probe.h"
#include "lib/Runtime/Ane/SimulatedAneDevice.h"

#include <fmt/format.h>

#include <cstdio>

namespace ane::exec {
namespace {

struct ProbeCommandOptions {
  std::string backend = "ane-sim";
  std::string chip = "m2";
  std::string output;
  runtime::ProbeOptions probe;
};

int probe(const ProbeCommandOptions &o) {
  std::unique_ptr<runtime::AneDevice> simulated;
  std::unique_ptr<runtime::Backend> backend;
  runtime::AneDevice *device = nullptr;
  if (o.backend == "ane-sim") {
    runtime::SimulatedAneOptions sim;
    sim.chip = *runtime::findChip(o.chip);
    simulated = runtime::createSimulatedAneDevice(sim);
    device = simulated.get();
    fmt::print(stderr,
               "probe: ane-sim, the ANE simulator modelling an {}, not "
               "hardware: every answer below is the simulator's model\n",
               o.chip);
  } else {
    auto created = runtime::createBackend(o.backend);
    if (!created.ok())
      return fail(created.message());
    backend = std::move(*created);
    device = runtime::aneDeviceOf(*backend);
    if (!device)
      return fail("--backend " + o.backend + " is not a Neural Engine");
    fmt::print(stderr, "probe: the Neural Engine of this machine\n");
  }
  fmt::print(stderr, "probe: G1 reload, G2 sin/cos, eval latency, weight "
                     "stream, then the compile ceiling (it spends this "
                     "process's compile budget)\n");
  runtime::ProbeReport report =
      runtime::runAneProbe(*device, simulated != nullptr, o.probe);
  std::string json = report.toJson() + "\n";
  if (o.output.empty()) {
    fmt::print("{}", json);
    return 0;
  }
  std::FILE *f = std::fopen(o.output.c_str(), "w");
  if (!f)
    return fail("cannot write " + o.output);
  bool ok = std::fwrite(json.data(), 1, json.size(), f) == json.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok)
    return fail("cannot write " + o.output);
  fmt::print(stderr, "probe: report written to {}\n", o.output);
  return 0;
}

} // namespace

void addProbeCommand(CLI::App &app) {
  auto o = std::make_shared<ProbeCommandOptions>();
  CLI::App *cmd = app.add_subcommand(
      "probe", "ask the Neural Engine what the design leaves open (weight "
               "reload, sin/cos, latency, compile ceiling, bandwidth); "
               "one JSON report");
  cmd->add_option("--backend", o->backend,
                  "ane (macOS) or ane-sim (the simulator, everywhere)")
      ->check(CLI::IsMember({"ane", "ane-sim"}));
  std::vector<std::string> names;
  for (const runtime::ChipSpec &c : runtime::chips())
    names.push_back(c.name);
  cmd->add_option("--chip", o->chip, "the chip ane-sim models")
      ->check(CLI::IsMember(names));
  cmd->add_option("--stream-rows", o->probe.streamRows,
                  "rows of the bandwidth probe's conv")
      ->check(between(64, 65536));
  cmd->add_option("--stream-channels", o->probe.streamChannels,
                  "channels of the bandwidth probe's conv")
      ->check(between(64, 65536));
  cmd->add_option("-o,--output", o->output,
                  "write the JSON report here instead of stdout");
  cmd->callback([o] {
    if (int rc = probe(*o))
      throw CLI::RuntimeError(rc);
  });
}

} // namespace ane::exec
