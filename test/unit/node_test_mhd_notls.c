/*
 * libmicrohttpd as the node links it. With PC_MHD_NO_TLS (CMakeLists.txt,
 * src/api/notls/gnutls_stub.c) it is libmicrohttpd.a with GnuTLS stubbed
 * out: no GnuTLS (nor libmicrohttpd.so) may be loaded into the process, a
 * plain daemon must start and answer, and a daemon asked for TLS must fail
 * to start rather than serve without it. Without PC_MHD_NO_TLS only the
 * plain daemon is checked.
 */
#include <arpa/inet.h>
#include <link.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "check.h"

static enum MHD_Result answer(void *cls, struct MHD_Connection *c, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req_cls)
{
    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    (void)upload_size;
    (void)req_cls;
    static const char body[] = "plain";
    struct MHD_Response *r =
        MHD_create_response_from_buffer(sizeof body - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* One GET / over loopback; the response, or "" on failure. */
static void get_root(uint16_t port, char *out, size_t out_size)
{
    out[0] = '\0';
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    static const char req[] = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 &&
        send(fd, req, sizeof req - 1, MSG_NOSIGNAL) == (ssize_t)(sizeof req - 1)) {
        ssize_t n;
        while (got + 1 < out_size && (n = recv(fd, out + got, out_size - 1 - got, 0)) > 0)
            got += (size_t)n;
    }
    out[got] = '\0';
    close(fd);
}

static void test_plain_daemon(void)
{
    struct MHD_Daemon *d =
        MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION, 0, NULL,
                         NULL, answer, NULL, MHD_OPTION_SOCK_ADDR,
                         (struct sockaddr *)&(struct sockaddr_in){
                             .sin_family = AF_INET, .sin_addr = {htonl(INADDR_LOOPBACK)}},
                         MHD_OPTION_END);
    CHECK(d != NULL);
    if (d == NULL)
        return;
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    CHECK(info != NULL && info->port != 0);
    char resp[1024];
    get_root(info != NULL ? info->port : 0, resp, sizeof resp);
    CHECK(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    CHECK(strstr(resp, "\r\n\r\nplain") != NULL);
    MHD_stop_daemon(d);
}

#ifdef PC_MHD_NO_TLS
static int find_lib(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    const char *want = data;
    return info->dlpi_name != NULL && strstr(info->dlpi_name, want) != NULL;
}

static void test_nothing_loaded(void)
{
    CHECK(dl_iterate_phdr(find_lib, (void *)"libgnutls") == 0);
    CHECK(dl_iterate_phdr(find_lib, (void *)"libmicrohttpd") == 0);
    CHECK(dl_iterate_phdr(find_lib, (void *)"libnettle") == 0);
    CHECK(dl_iterate_phdr(find_lib, (void *)"libc.so") == 1); /* the walk itself works */
}

static void test_tls_refused(void)
{
    static const char key[] = "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n";
    static const char cert[] =
        "-----BEGIN CERTIFICATE-----\nnot a cert\n-----END CERTIFICATE-----\n";
    struct MHD_Daemon *d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS, 0, NULL,
                                            NULL, answer, NULL, MHD_OPTION_HTTPS_MEM_KEY, key,
                                            MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_END);
    CHECK(d == NULL);
    if (d != NULL)
        MHD_stop_daemon(d);
}
#endif

int main(void)
{
#ifdef PC_MHD_NO_TLS
    test_nothing_loaded();
    test_tls_refused();
#else
    printf("shared libmicrohttpd (PC_MHD_NO_TLS off or unavailable): plain daemon only\n");
#endif
    test_plain_daemon();
    return check_summary();
}
