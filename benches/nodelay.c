/* Sets TCP_NODELAY on every connection a server accepts, loaded into s3s-fs by
 * benches/s3_fast_bench.py with LD_PRELOAD. s3s-fs 0.14.1 leaves Nagle's algorithm on:
 * it writes a response's head and body apart, the second write waits for the client's
 * delayed ACK, and a ranged GET takes up to 40 ms more than its bytes need. S3 itself
 * does not answer so; this takes the stall out of the measure of vouch. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd) {
    int one = 1;
    if (fd >= 0) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int accept(int s, struct sockaddr *a, socklen_t *l) {
    static int (*real)(int, struct sockaddr *, socklen_t *);
    if (!real) real = dlsym(RTLD_NEXT, "accept");
    int fd = real(s, a, l);
    nodelay(fd);
    return fd;
}

int accept4(int s, struct sockaddr *a, socklen_t *l, int flags) {
    static int (*real)(int, struct sockaddr *, socklen_t *, int);
    if (!real) real = dlsym(RTLD_NEXT, "accept4");
    int fd = real(s, a, l, flags);
    nodelay(fd);
    return fd;
}
