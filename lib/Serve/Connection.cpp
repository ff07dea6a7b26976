//===- Connection.cpp - is a request's client still there? ----------------===//

#include "lib/Serve/Connection.h"

#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>

namespace ane::serve {

namespace {

using NameFn = int (*)(int, sockaddr *, socklen_t *);

/// The socket's own (getsockname) or peer's (getpeername) endpoint; an
/// empty one when `fd` is not a connected internet socket.
Endpoint endpointOf(int fd, NameFn name) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (name(fd, reinterpret_cast<sockaddr *>(&ss), &len) != 0 ||
      (ss.ss_family != AF_INET && ss.ss_family != AF_INET6))
    return {};
  char host[NI_MAXHOST], port[NI_MAXSERV];
  if (getnameinfo(reinterpret_cast<sockaddr *>(&ss), len, host, sizeof(host),
                  port, sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV) != 0)
    return {};
  return {host, std::atoi(port)};
}

} // namespace

int findConnection(const Endpoint &local, const Endpoint &remote) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir)
    return -1;
  int found = -1;
  while (dirent *e = readdir(dir)) {
    char *end = nullptr;
    long fd = std::strtol(e->d_name, &end, 10);
    if (end == e->d_name || *end != '\0' || fd == dirfd(dir))
      continue;
    if (endpointOf(int(fd), getpeername) == remote &&
        endpointOf(int(fd), getsockname) == local) {
      found = int(fd);
      break;
    }
  }
  closedir(dir);
  return found;
}

bool peerClosed(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, 0) <= 0)
    return false;
  if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
    return true;
  // Readable: either the peer's FIN (a read of 0) or more bytes it sent,
  // such as its next request on a kept-alive connection.
  char byte;
  ssize_t n = recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return n == 0 ||
         (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

} // namespace ane::serve
