//===- StandIns.mm - test stand-ins of the private ANE API ----------------===//
//
// The four private classes and the IOSurface calls, as the shim uses them,
// implemented over SimulatedAneDevice. Surfaces get a row pitch of 128
// bytes, twice the ANE's 64-byte alignment, so the shim's row copies are
// checked against a pitch other than its own.
//
//===----------------------------------------------------------------------===//

#include "test/unittests/AneShim/StandIns.h"

#include "lib/MIL/Text.h"
#include "lib/Runtime/Ane/Shim/IOSurfaceApi.h"

#import <Foundation/Foundation.h>

#include <cstring>
#include <memory>
#include <vector>

using namespace ane;
using namespace ane::runtime;

struct __IOSurface {
  std::vector<uint8_t> bytes;
  size_t bytesPerRow = 0;
  size_t height = 0;
};

namespace {

struct State {
  std::unique_ptr<AneDevice> device = createSimulatedAneDevice();
  int failLoads = 0;
  int liveSurfaces = 0;
  int heldLocks = 0;
  int wrongQoS = 0;
};

State &state() {
  static State s;
  return s;
}

void checkQoS(unsigned int qos) {
  if (qos != 21)
    state().wrongQoS += 1;
}

BOOL fail(NSError **error, const std::string &message) {
  if (error)
    *error = [NSError
        errorWithDomain:@"ANEStandIn"
                   code:1
               userInfo:[NSDictionary
                            dictionaryWithObject:
                                [NSString stringWithUTF8String:message.c_str()]
                                          forKey:NSLocalizedDescriptionKey]];
  return NO;
}

} // namespace

namespace ane::runtime::standin {
void reset(SimulatedAneOptions options) {
  state() = State();
  state().device = createSimulatedAneDevice(options);
}
const AneCounters &counters() { return state().device->counters(); }
void failNextLoads(int n) { state().failLoads = n; }
int liveSurfaces() { return state().liveSurfaces; }
int heldLocks() { return state().heldLocks; }
int wrongQoS() { return state().wrongQoS; }
} // namespace ane::runtime::standin

extern "C" {

IOSurfaceRef IOSurfaceCreate(CFDictionaryRef properties) {
  NSDictionary *p = (NSDictionary *)properties;
  size_t height = [[p objectForKey:@"IOSurfaceHeight"] unsignedLongValue];
  size_t pitch = [[p objectForKey:@"IOSurfaceBytesPerRow"] unsignedLongValue];
  auto *s = new __IOSurface;
  s->bytesPerRow = (pitch + 127) / 128 * 128;
  s->height = height;
  s->bytes.assign(s->bytesPerRow * height, 0xAB); // garbage in the padding
  state().liveSurfaces += 1;
  return s;
}

kern_return_t IOSurfaceLock(IOSurfaceRef, uint32_t, uint32_t *) {
  state().heldLocks += 1;
  return 0;
}

kern_return_t IOSurfaceUnlock(IOSurfaceRef, uint32_t, uint32_t *) {
  state().heldLocks -= 1;
  return 0;
}

void *IOSurfaceGetBaseAddress(IOSurfaceRef s) { return s->bytes.data(); }
size_t IOSurfaceGetBytesPerRow(IOSurfaceRef s) { return s->bytesPerRow; }
size_t IOSurfaceGetHeight(IOSurfaceRef s) { return s->height; }

void CFRelease(CFTypeRef object) {
  // The only CF objects the shim releases are its IOSurfaces.
  delete static_cast<const __IOSurface *>(object);
  state().liveSurfaces -= 1;
}

} // extern "C"

@interface _ANEInMemoryModelDescriptor : NSObject {
@public
  NSData *text;
  NSDictionary *weights;
}
@end

@implementation _ANEInMemoryModelDescriptor
+ (id)modelWithMILText:(NSData *)text
               weights:(NSDictionary *)weights
          optionsPlist:(id)options {
  _ANEInMemoryModelDescriptor *d =
      [[[_ANEInMemoryModelDescriptor alloc] init] autorelease];
  d->text = [text retain];
  d->weights = [weights retain];
  return d;
}
- (void)dealloc {
  [text release];
  [weights release];
  [super dealloc];
}
@end

@interface _ANEIOSurfaceObject : NSObject {
@public
  IOSurfaceRef surface;
}
@end

@implementation _ANEIOSurfaceObject
+ (id)objectWithIOSurface:(IOSurfaceRef)surface {
  _ANEIOSurfaceObject *o = [[[_ANEIOSurfaceObject alloc] init] autorelease];
  o->surface = surface;
  return o;
}
@end

@interface _ANERequest : NSObject {
@public
  NSArray *inputs, *outputs;
}
@end

@implementation _ANERequest
+ (id)requestWithInputs:(NSArray *)inputs
           inputIndices:(NSArray *)inputIndices
                outputs:(NSArray *)outputs
          outputIndices:(NSArray *)outputIndices
          weightsBuffer:(id)weightsBuffer
              perfStats:(id)perfStats
         procedureIndex:(NSNumber *)procedureIndex {
  _ANERequest *r = [[[_ANERequest alloc] init] autorelease];
  r->inputs = [inputs retain];
  r->outputs = [outputs retain];
  return r;
}
- (void)dealloc {
  [inputs release];
  [outputs release];
  [super dealloc];
}
@end

@interface _ANEInMemoryModel : NSObject {
  _ANEInMemoryModelDescriptor *descriptor;
  AneProgramId program;
  std::vector<mil::Shape> *inputShapes, *outputShapes;
}
@end

@implementation _ANEInMemoryModel
+ (id)inMemoryModelWithDescriptor:(id)descriptor {
  _ANEInMemoryModel *m = [[[_ANEInMemoryModel alloc] init] autorelease];
  m->descriptor = [descriptor retain];
  m->program = -1;
  m->inputShapes = new std::vector<mil::Shape>;
  m->outputShapes = new std::vector<mil::Shape>;
  return m;
}
- (void)dealloc {
  [descriptor release];
  delete inputShapes;
  delete outputShapes;
  [super dealloc];
}
- (BOOL)compileWithQoS:(unsigned int)qos
               options:(NSDictionary *)options
                 error:(NSError **)error {
  checkQoS(qos);
  std::string text(static_cast<const char *>([descriptor->text bytes]),
                   [descriptor->text length]);
  std::vector<AneWeightFile> files;
  NSEnumerator *paths = [descriptor->weights keyEnumerator];
  NSString *path;
  while ((path = [paths nextObject])) {
    NSDictionary *entry = [descriptor->weights objectForKey:path];
    NSData *data = [entry objectForKey:@"data"];
    uint64_t offset = [[entry objectForKey:@"offset"] unsignedLongLongValue];
    if (!data || offset > [data length])
      return fail(error, "bad weights entry");
    files.push_back({[path UTF8String], {
                       static_cast<const uint8_t *>([data bytes]) + offset,
                           [data length] - offset
                     }});
  }
  auto id = state().device->compile(text, files);
  if (!id.ok())
    return fail(error, id.message());
  program = *id;
  // The I/O shapes, to read the surfaces the request will bring.
  auto parsed = mil::parseProgram(text);
  const mil::Function *fn = parsed.ok() ? parsed->function("main") : nullptr;
  if (!fn)
    return fail(error, "no main");
  for (const mil::Param &p : fn->params)
    inputShapes->push_back(p.type.dims);
  for (const std::string &o : fn->outputs)
    for (const mil::Statement &s : fn->body)
      for (const mil::Statement::Output &out : s.outputs)
        if (out.name == o)
          outputShapes->push_back(out.type.dims);
  return YES;
}
- (BOOL)loadWithQoS:(unsigned int)qos
            options:(NSDictionary *)options
              error:(NSError **)error {
  checkQoS(qos);
  if (state().failLoads > 0) {
    state().failLoads -= 1;
    return fail(error, "ANE busy");
  }
  Status s = state().device->load(program);
  return s.ok() ? YES : fail(error, s.message());
}
- (BOOL)unloadWithQoS:(unsigned int)qos error:(NSError **)error {
  checkQoS(qos);
  Status s = state().device->unload(program);
  return s.ok() ? YES : fail(error, s.message());
}
- (BOOL)evaluateWithQoS:(unsigned int)qos
                options:(NSDictionary *)options
                request:(id)request
                  error:(NSError **)error {
  checkQoS(qos);
  _ANERequest *r = request;
  if ([r->inputs count] != inputShapes->size() ||
      [r->outputs count] != outputShapes->size())
    return fail(error, "wrong surface count");
  // Read each IOSurface at its own pitch into the simulator's surfaces.
  std::vector<std::unique_ptr<AneSurface>> in, out;
  std::vector<const AneSurface *> inPtrs;
  std::vector<AneSurface *> outPtrs;
  for (size_t i = 0; i < inputShapes->size(); ++i) {
    IOSurfaceRef ref =
        ((_ANEIOSurfaceObject *)[r->inputs objectAtIndex:i])->surface;
    in.push_back(std::make_unique<AneSurface>((*inputShapes)[i]));
    for (int64_t row = 0; row < in.back()->rows(); ++row)
      std::memcpy(in.back()->data() + size_t(row) * in.back()->rowBytes(),
                  ref->bytes.data() + size_t(row) * ref->bytesPerRow,
                  size_t(in.back()->width()) * 2);
    in.back()->touch();
    inPtrs.push_back(in.back().get());
  }
  for (const mil::Shape &shape : *outputShapes) {
    out.push_back(std::make_unique<AneSurface>(shape));
    outPtrs.push_back(out.back().get());
  }
  Status s = state().device->evaluate(program, inPtrs, outPtrs);
  if (!s.ok())
    return fail(error, s.message());
  for (size_t i = 0; i < out.size(); ++i) {
    IOSurfaceRef ref =
        ((_ANEIOSurfaceObject *)[r->outputs objectAtIndex:i])->surface;
    for (int64_t row = 0; row < out[i]->rows(); ++row)
      std::memcpy(ref->bytes.data() + size_t(row) * ref->bytesPerRow,
                  out[i]->data() + size_t(row) * out[i]->rowBytes(),
                  size_t(out[i]->width()) * 2);
  }
  return YES;
}
@end
