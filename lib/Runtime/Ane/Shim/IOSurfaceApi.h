//===- IOSurfaceApi.h - the IOSurface calls the shim makes ------*- C++ -*-===//
//
// On macOS, IOSurface.framework. Elsewhere, the same declarations, defined
// by the test stand-ins (test/unittests/AneShim/StandIns.mm).
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_RUNTIME_ANE_SHIM_IOSURFACEAPI_H
#define ANE_LIB_RUNTIME_ANE_SHIM_IOSURFACEAPI_H

#if defined(__APPLE__)
#include <IOSurface/IOSurface.h>
#else
#include <cstddef>
#include <cstdint>

extern "C" {
typedef struct __IOSurface *IOSurfaceRef;
typedef const struct __CFDictionary *CFDictionaryRef;
typedef const void *CFTypeRef;
typedef int32_t kern_return_t;
enum { kIOSurfaceLockReadOnly = 1 };
IOSurfaceRef IOSurfaceCreate(CFDictionaryRef properties);
kern_return_t IOSurfaceLock(IOSurfaceRef surface, uint32_t options,
                            uint32_t *seed);
kern_return_t IOSurfaceUnlock(IOSurfaceRef surface, uint32_t options,
                              uint32_t *seed);
void *IOSurfaceGetBaseAddress(IOSurfaceRef surface);
size_t IOSurfaceGetBytesPerRow(IOSurfaceRef surface);
size_t IOSurfaceGetHeight(IOSurfaceRef surface);
void CFRelease(CFTypeRef object);
}
#endif

#endif // ANE_LIB_RUNTIME_ANE_SHIM_IOSURFACEAPI_H
