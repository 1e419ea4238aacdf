// A tiny static HTTP/1.1 server for bench/network: answers every request on a connection
// with the same page (keep-alive), one thread per connection. busybox httpd closes the
// connection after each answer, so a client runs out of local ports (TIME_WAIT) long before
// the network path is the limit; this one keeps the connections and measures the path.
//
//   gcc -O2 -static -pthread -o http-keepalive http-keepalive.c
//   http-keepalive PORT FILE
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char response[65536];
static size_t response_len;

static void* serve(void* arg) {
    int fd = (int)(long)arg;
    char buf[16384];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof buf - have - 1);
        if (n <= 0) break;
        have += (size_t)n;
        buf[have] = 0;
        char* start = buf;
        char* end;
        while ((end = strstr(start, "\r\n\r\n")) != NULL) {  // one answer per request
            size_t off = 0;
            while (off < response_len) {
                ssize_t w = write(fd, response + off, response_len - off);
                if (w <= 0) goto done;
                off += (size_t)w;
            }
            start = end + 4;
        }
        have -= (size_t)(start - buf);
        memmove(buf, start, have);
        if (have == sizeof buf - 1) break;  // a request too large
    }
done:
    close(fd);
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT FILE\n", argv[0]);
        return 2;
    }
    FILE* f = fopen(argv[2], "rb");
    if (!f) {
        perror(argv[2]);
        return 1;
    }
    char body[60000];
    size_t body_len = fread(body, 1, sizeof body, f);
    fclose(f);
    response_len = (size_t)snprintf(response, sizeof response,
                                    "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n\r\n",
                                    body_len);
    memcpy(response + response_len, body, body_len);
    response_len += body_len;

    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    if (bind(s, (struct sockaddr*)&addr, sizeof addr) != 0 || listen(s, 512) != 0) {
        perror("bind/listen");
        return 1;
    }
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_t t;
        if (pthread_create(&t, NULL, serve, (void*)(long)c) != 0) {
            close(c);
            continue;
        }
        pthread_detach(t);
    }
}
