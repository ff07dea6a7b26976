//===- PrivateAneDevice.mm - the ANE through Apple's private API ----------===//
//
// The sequence public reverse engineering (maderix/ANE) found works, one
// AneDevice call each: _ANEInMemoryModelDescriptor from the MIL text and a
// weights dictionary, _ANEInMemoryModel compiled and loaded (a failed load
// is retried), _ANERequest over _ANEIOSurfaceObjects evaluated, unloaded.
// Manual retain/release, no Objective-C literals or fast enumeration, and
// no fmt (its headers name variables `id`), so the same file builds with
// clang on macOS and with gobjc++ against GNUstep.
//
//===----------------------------------------------------------------------===//

#include "lib/Runtime/Ane/Shim/PrivateAneDevice.h"

#include "lib/Runtime/Ane/Shim/IOSurfaceApi.h"

#import <Foundation/Foundation.h>

#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <dlfcn.h>

/// The private selectors, declared for the compiler; the classes that
/// answer them are looked up by name at run time.
@interface NSObject (AnePrivateApi)
+ (id)modelWithMILText:(NSData *)text
               weights:(NSDictionary *)weights
          optionsPlist:(id)options;
+ (id)inMemoryModelWithDescriptor:(id)descriptor;
- (BOOL)compileWithQoS:(unsigned int)qos
               options:(NSDictionary *)options
                 error:(NSError **)error;
- (BOOL)loadWithQoS:(unsigned int)qos
            options:(NSDictionary *)options
              error:(NSError **)error;
- (BOOL)unloadWithQoS:(unsigned int)qos error:(NSError **)error;
- (BOOL)evaluateWithQoS:(unsigned int)qos
                options:(NSDictionary *)options
                request:(id)request
                  error:(NSError **)error;
+ (id)objectWithIOSurface:(IOSurfaceRef)surface;
+ (id)requestWithInputs:(NSArray *)inputs
           inputIndices:(NSArray *)inputIndices
                outputs:(NSArray *)outputs
          outputIndices:(NSArray *)outputIndices
          weightsBuffer:(id)weightsBuffer
              perfStats:(id)perfStats
         procedureIndex:(NSNumber *)procedureIndex;
@end

namespace ane::runtime {
namespace {

/// The quality of service public ANE code passes to every call.
constexpr unsigned int kQoS = 21;

std::string describe(NSError *error) {
  if (!error)
    return "no reason given";
  NSString *text = [error localizedDescription];
  return text ? std::string([text UTF8String]) : "no reason given";
}

std::string describe(NSException *exception) {
  NSString *reason = [exception reason];
  return std::string([[exception name] UTF8String]) + " (" +
         (reason ? [reason UTF8String] : "no reason given") + ")";
}

std::string programName(AneProgramId id) {
  return "program " + std::to_string(id);
}

/// `body`, with an Objective-C exception from the framework turned into an
/// error. Only where the compiler is clang: GCC's Objective-C++ drops the
/// statements of a @try inside a template and crashes unwinding an
/// exception through C++ frames, and the Linux stand-ins never throw.
Status guarded(const char *what, const std::function<Status()> &body) {
#if defined(__clang__)
  Status status = Status::success();
  @try {
    status = body();
  } @catch (NSException *e) {
    status =
        Status::error(std::string("the ANE ") + what + " threw " + describe(e));
  }
  return status;
#else
  (void)what;
  return body();
#endif
}

Result<Class> findClass(const char *name) {
  Class c = NSClassFromString([NSString stringWithUTF8String:name]);
  if (!c)
    return Status::error(
        std::string("the AppleNeuralEngine framework has no class ") + name +
        " (this macOS may not have the API this backend uses): run with "
        "--backend cpu");
  return c;
}

/// An IOSurface holding a copy of `surface`'s rows (whatever row pitch the
/// system chose); released with the object.
class ScopedIOSurface {
public:
  explicit ScopedIOSurface(const AneSurface &surface) {
    NSDictionary *properties = [NSDictionary
        dictionaryWithObjectsAndKeys:
            [NSNumber numberWithLongLong:surface.width()], @"IOSurfaceWidth",
            [NSNumber numberWithLongLong:surface.rows()], @"IOSurfaceHeight",
            [NSNumber numberWithInt:2], @"IOSurfaceBytesPerElement",
            [NSNumber numberWithUnsignedLong:surface.rowBytes()],
            @"IOSurfaceBytesPerRow",
            [NSNumber numberWithUnsignedLong:surface.byteSize()],
            @"IOSurfaceAllocSize", nil];
    ref = IOSurfaceCreate((CFDictionaryRef)properties);
  }
  ~ScopedIOSurface() {
    if (ref)
      CFRelease(ref);
  }
  ScopedIOSurface(const ScopedIOSurface &) = delete;
  ScopedIOSurface &operator=(const ScopedIOSurface &) = delete;

  IOSurfaceRef get() const { return ref; }

  void copyFrom(const AneSurface &surface) {
    IOSurfaceLock(ref, 0, nullptr);
    copyRows(surface.data(), surface.rowBytes(),
             static_cast<uint8_t *>(IOSurfaceGetBaseAddress(ref)),
             IOSurfaceGetBytesPerRow(ref), surface);
    IOSurfaceUnlock(ref, 0, nullptr);
  }

  void copyTo(AneSurface &surface) const {
    IOSurfaceLock(ref, kIOSurfaceLockReadOnly, nullptr);
    copyRows(static_cast<const uint8_t *>(IOSurfaceGetBaseAddress(ref)),
             IOSurfaceGetBytesPerRow(ref), surface.data(), surface.rowBytes(),
             surface);
    IOSurfaceUnlock(ref, kIOSurfaceLockReadOnly, nullptr);
    surface.touch();
  }

private:
  static void copyRows(const uint8_t *from, size_t fromPitch, uint8_t *to,
                       size_t toPitch, const AneSurface &shape) {
    size_t rowBytes = size_t(shape.width()) * 2;
    for (int64_t r = 0; r < shape.rows(); ++r)
      std::memcpy(to + size_t(r) * toPitch, from + size_t(r) * fromPitch,
                  rowBytes);
  }

  IOSurfaceRef ref = nullptr;
};

class PrivateAneDevice final : public AneDevice {
public:
  PrivateAneDevice(const PrivateAneOptions &options, Class descriptorClass,
                   Class modelClass, Class surfaceClass, Class requestClass)
      : options(options), descriptorClass(descriptorClass),
        modelClass(modelClass), surfaceClass(surfaceClass),
        requestClass(requestClass) {}

  ~PrivateAneDevice() override {
    for (Program &p : programs) {
      if (p.loaded) {
        NSError *error = nil;
        [p.model unloadWithQoS:kQoS error:&error];
      }
      [p.model release];
    }
  }

  std::string_view name() const override { return "ane"; }

  Result<AneProgramId>
  compile(const std::string &milText,
          const std::vector<AneWeightFile> &weights) override {
    NSAutoreleasePool *pool = [[NSAutoreleasePool alloc] init];
    Result<AneProgramId> result = Status::error("not compiled");
    Status status = guarded("compile", [&] {
      result = compileIn(milText, weights);
      return result.status();
    });
    if (!status.ok())
      result = status;
    [pool drain];
    return result;
  }

  Status load(AneProgramId id) override {
    return call(id, "load", [&](Program &p) -> Status {
      if (p.loaded)
        return Status::error(programName(id) +
                             " is already loaded: unload it first");
      NSError *error = nil;
      for (int attempt = 0;; ++attempt) {
        if ([p.model loadWithQoS:kQoS
                         options:[NSDictionary dictionary]
                           error:&error])
          break;
        if (attempt >= options.loadRetries)
          return Status::error("the ANE did not load the program: " +
                               describe(error));
        std::this_thread::sleep_for(
            std::chrono::milliseconds(options.retryDelayMs));
      }
      p.loaded = true;
      counters_.loads += 1;
      return Status::success();
    });
  }

  Status unload(AneProgramId id) override {
    return call(id, "unload", [&](Program &p) -> Status {
      if (!p.loaded)
        return Status::error(programName(id) + " is not loaded");
      NSError *error = nil;
      if (![p.model unloadWithQoS:kQoS error:&error])
        return Status::error("the ANE did not unload the program: " +
                             describe(error));
      p.loaded = false;
      counters_.unloads += 1;
      return Status::success();
    });
  }

  Status evaluate(AneProgramId id,
                  const std::vector<const AneSurface *> &inputs,
                  const std::vector<AneSurface *> &outputs) override {
    return call(id, "evaluate", [&](Program &p) -> Status {
      if (!p.loaded)
        return Status::error(programName(id) + " is not loaded: load it first");
      std::vector<std::unique_ptr<ScopedIOSurface>> in, out;
      NSMutableArray *inObjects = [NSMutableArray array];
      NSMutableArray *inIndices = [NSMutableArray array];
      NSMutableArray *outObjects = [NSMutableArray array];
      NSMutableArray *outIndices = [NSMutableArray array];
      for (size_t i = 0; i < inputs.size(); ++i) {
        in.push_back(std::make_unique<ScopedIOSurface>(*inputs[i]));
        if (!in.back()->get())
          return Status::error("IOSurfaceCreate failed for input " +
                               std::to_string(i));
        in.back()->copyFrom(*inputs[i]);
        [inObjects
            addObject:[surfaceClass objectWithIOSurface:in.back()->get()]];
        [inIndices addObject:[NSNumber numberWithUnsignedLong:i]];
        counters_.bytesIn += inputs[i]->byteSize();
      }
      for (size_t i = 0; i < outputs.size(); ++i) {
        out.push_back(std::make_unique<ScopedIOSurface>(*outputs[i]));
        if (!out.back()->get())
          return Status::error("IOSurfaceCreate failed for output " +
                               std::to_string(i));
        [outObjects
            addObject:[surfaceClass objectWithIOSurface:out.back()->get()]];
        [outIndices addObject:[NSNumber numberWithUnsignedLong:i]];
      }
      id request = [requestClass requestWithInputs:inObjects
                                      inputIndices:inIndices
                                           outputs:outObjects
                                     outputIndices:outIndices
                                     weightsBuffer:nil
                                         perfStats:nil
                                    procedureIndex:[NSNumber numberWithInt:0]];
      if (!request)
        return Status::error("_ANERequest refused the surfaces");
      NSError *error = nil;
      if (![p.model evaluateWithQoS:kQoS
                            options:[NSDictionary dictionary]
                            request:request
                              error:&error])
        return Status::error("the ANE evaluation failed: " + describe(error));
      for (size_t i = 0; i < outputs.size(); ++i) {
        out[i]->copyTo(*outputs[i]);
        counters_.bytesOut += outputs[i]->byteSize();
      }
      counters_.evaluations += 1;
      return Status::success();
    });
  }

  const AneCounters &counters() const override { return counters_; }

private:
  struct Program {
    id model = nil;
    bool loaded = false;
  };

  Result<AneProgramId> compileIn(const std::string &milText,
                                 const std::vector<AneWeightFile> &weights) {
    NSData *text = [NSData dataWithBytes:milText.data() length:milText.size()];
    NSMutableDictionary *files = [NSMutableDictionary dictionary];
    for (const AneWeightFile &w : weights) {
      NSData *data = [NSData dataWithBytes:w.data.data length:w.data.size];
      NSDictionary *entry = [NSDictionary
          dictionaryWithObjectsAndKeys:[NSNumber numberWithUnsignedLongLong:0],
                                       @"offset", data, @"data", nil];
      [files setObject:entry
                forKey:[NSString stringWithUTF8String:w.path.c_str()]];
    }
    id descriptor = [descriptorClass modelWithMILText:text
                                              weights:files
                                         optionsPlist:nil];
    if (!descriptor)
      return Status::error(
          "_ANEInMemoryModelDescriptor refused the program text");
    id model = [modelClass inMemoryModelWithDescriptor:descriptor];
    if (!model)
      return Status::error("_ANEInMemoryModel refused the descriptor");
    NSError *error = nil;
    if (![model compileWithQoS:kQoS
                       options:[NSDictionary dictionary]
                         error:&error])
      return Status::error("the ANE compiler failed: " + describe(error));
    programs.push_back({[model retain], false});
    counters_.compiles += 1;
    for (const AneWeightFile &w : weights)
      counters_.bakedWeightBytes += w.data.size;
    return AneProgramId(programs.size() - 1);
  }

  /// Runs `body` on program `id` in an autorelease pool.
  Status call(AneProgramId id, const char *what,
              const std::function<Status(Program &)> &body) {
    if (id < 0 || size_t(id) >= programs.size())
      return Status::error("no " + programName(id) + " on the ANE");
    NSAutoreleasePool *pool = [[NSAutoreleasePool alloc] init];
    Status status = guarded(what, [&] { return body(programs[size_t(id)]); });
    [pool drain];
    return status;
  }

  PrivateAneOptions options;
  Class descriptorClass, modelClass, surfaceClass, requestClass;
  std::vector<Program> programs;
  AneCounters counters_;
};

} // namespace

Status requireAneClass(const std::string &name) {
  NSAutoreleasePool *pool = [[NSAutoreleasePool alloc] init];
  Status status = findClass(name.c_str()).status();
  [pool drain];
  return status;
}

Result<std::unique_ptr<AneDevice>>
createPrivateAneDevice(const PrivateAneOptions &options) {
  if (!options.frameworkPath.empty() &&
      !::dlopen(options.frameworkPath.c_str(), RTLD_NOW)) {
    const char *why = ::dlerror();
    return Status::error(
        "cannot load the AppleNeuralEngine framework " + options.frameworkPath +
        ": " + (why ? why : "unknown error") +
        "; the ane backend needs macOS on Apple silicon: run with --backend "
        "cpu");
  }
  NSAutoreleasePool *pool = [[NSAutoreleasePool alloc] init];
  const char *names[] = {"_ANEInMemoryModelDescriptor", "_ANEInMemoryModel",
                         "_ANEIOSurfaceObject", "_ANERequest"};
  Class classes[4];
  for (int i = 0; i < 4; ++i) {
    Result<Class> c = findClass(names[i]);
    if (!c.ok()) {
      [pool drain];
      return c.status();
    }
    classes[i] = *c;
  }
  [pool drain];
  return std::unique_ptr<AneDevice>(std::make_unique<PrivateAneDevice>(
      options, classes[0], classes[1], classes[2], classes[3]));
}

} // namespace ane::runtime
