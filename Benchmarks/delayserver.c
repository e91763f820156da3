/* delayserver DELAY_MS PORT [tcp|http]
 *
 * The benchmark's service process: sleeps DELAY_MS after exec, then listens on 127.0.0.1:PORT.
 * tcp: accepts and closes each connection. http: answers every request with "200 OK".
 * A C program so that the process's own start-up is ~1 ms and DELAY_MS is the whole known delay
 * (a Python server would add 20-30 ms of interpreter start-up to both svcunit and the baseline).
 * SIGTERM keeps its default action (immediate exit), so stop times measure the manager, not us. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: delayserver DELAY_MS PORT [tcp|http]\n"); return 2; }
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);   /* when this program started: compare with the unit's
                                              ExecMainStartTimestampMonotonic to see the exec chain's cost */
    long delay_ms = atol(argv[1]);
    int port = atoi(argv[2]);
    int http = argc > 3 && strcmp(argv[3], "http") == 0;
    struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
    while (clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, &ts) != 0) {}
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind"); return 1; }
    if (listen(s, 128) != 0) { perror("listen"); return 1; }
    printf("listening on 127.0.0.1:%d after %ld ms (%s) exec_monotonic_us=%lld\n", port, delay_ms,
           http ? "http" : "tcp", (long long)t0.tv_sec * 1000000 + t0.tv_nsec / 1000);
    fflush(stdout);
    static const char reply[] = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n";
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        if (http) {
            char buf[4096]; size_t got = 0; ssize_t n;
            struct timeval tv = { 2, 0 };
            setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
            /* read until the end of the request head (or the peer stops sending) */
            while (got < sizeof buf - 1 && (n = read(c, buf + got, sizeof buf - 1 - got)) > 0) {
                got += (size_t)n; buf[got] = 0;
                if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n")) break;
            }
            if (got > 0) { ssize_t w = write(c, reply, sizeof reply - 1); (void)w; }
        }
        close(c);
    }
}
