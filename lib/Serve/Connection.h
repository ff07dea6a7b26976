//===- Connection.h - is a request's client still there? --------*- C++ -*-===//
//
// cpp-httplib 0.11 (Debian 12's) gives a handler no way to learn that its
// client went away, which a request that is not streamed needs to free its
// slot early. The handler's connection is the one socket of the process
// with the request's local and remote addresses; while the handler runs,
// cpp-httplib keeps it open, so it can be found and watched.
//
//===----------------------------------------------------------------------===//

#ifndef ANE_LIB_SERVE_CONNECTION_H
#define ANE_LIB_SERVE_CONNECTION_H

#include <string>

namespace ane::serve {

/// A numeric address (as getnameinfo spells it, cpp-httplib's form) and
/// port.
struct Endpoint {
  std::string addr;
  int port = -1;
  bool operator==(const Endpoint &o) const {
    return port == o.port && addr == o.addr;
  }
};

/// The connected socket of this process from `local` to `remote`; -1 when
/// there is none.
int findConnection(const Endpoint &local, const Endpoint &remote);

/// Whether the peer of connected socket `fd` has closed it (it reads as
/// end of file, or the socket has failed). Never blocks.
bool peerClosed(int fd);

} // namespace ane::serve

#endif // ANE_LIB_SERVE_CONNECTION_H
