/* SPDX-License-Identifier: MIT */
/*
 * gw_bind.c — the gateway's listening socket: "HOST:PORT" ("[v6]:PORT"
 * too; port 0 picks one) resolved and bound with the options every
 * accepted connection inherits (TCP_NODELAY, small kernel buffers), and
 * SO_REUSEPORT when workers share the port.  Used by gw_server and by the
 * --workers supervisor, which reserves the shared port with a socket that
 * never listens.  Guarantees: on failure nothing is left open and errno
 * says why (CN_ESYS).  Any thread; the caller owns the descriptor.
 */
#include "gw_server_int.h"

#include "cn_err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int split_hostport(const char *s, char *host, size_t cap, char *port, size_t pcap)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return CN_EINVAL;
    const char *h = s;
    size_t hl = (size_t)(colon - s);
    if (h[0] == '[' && hl >= 2 && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= cap || strlen(colon + 1) >= pcap || !colon[1])
        return CN_EINVAL;
    memcpy(host, h, hl);
    host[hl] = 0;
    strcpy(port, colon + 1);
    return 0;
}

int gw__bind(const char *listen_at, int reuseport, int sock_buf, int backlog, int *out_fd,
             int *out_port)
{
    char host[256], port[16];
    if (split_hostport(listen_at, host, sizeof(host), port, sizeof(port)))
        return CN_EINVAL;
    struct addrinfo hints, *ai = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    if (getaddrinfo(host, port, &hints, &ai) || !ai)
        return CN_EINVAL;
    int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1, b = sock_buf;
    /* Set on the listener, inherited by every accepted socket (Linux
     * clones these options at accept): no per-connection syscalls.  Small
     * kernel buffers because pings and acks are a few hundred bytes and
     * the kernel's defaults (~128 KiB+) per socket would dwarf our slot. */
    if (fd >= 0) {
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (b > 0) {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &b, sizeof(b));
            setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &b, sizeof(b));
        }
    }
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one))) ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) || (backlog > 0 && listen(fd, backlog))) {
        int e = errno; /* the caller reports it (one line on stderr) */
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        errno = e;
        return CN_ESYS;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &sl);
    *out_port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                              : ((struct sockaddr_in6 *)&ss)->sin6_port);
    *out_fd = fd;
    return 0;
}
