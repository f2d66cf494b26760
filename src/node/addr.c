/*
 * Peer addresses (see addr.h). Pure; no locks.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "peerchain/errors.h"

static bool is_host_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '.' || c == '_';
}

/* Plain decimal 1..65535: digits only, no sign, no leading zero. */
static int parse_port(const char *s, size_t n, int *out)
{
    if (n == 0 || n > 5 || s[0] == '0')
        return -1;
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    if (v < 1 || v > 65535)
        return -1;
    *out = v;
    return 0;
}

int addr_parse(const char *s, struct addr_target *out, struct pc_err *err)
{
    memset(out, 0, sizeof *out);
    if (s == NULL || *s == '\0')
        return pc_err_set(err, PC_E_ARG, "empty address");
    size_t n = strnlen(s, ADDR_MAX_INPUT + 1);
    if (n > ADDR_MAX_INPUT)
        return pc_err_set(err, PC_E_ARG, "address longer than %u bytes", ADDR_MAX_INPUT);
    if (strncmp(s, "ws://", 5) == 0) {
        s += 5;
        n -= 5;
        if (n > 0 && s[n - 1] == '/')
            n--;
    }

    const char *host, *port;
    size_t host_len;
    if (n > 0 && s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (close == NULL)
            return pc_err_set(err, PC_E_ARG, "'[' without ']' in address");
        host = s + 1;
        host_len = (size_t)(close - host);
        if (close + 1 >= s + n || close[1] != ':')
            return pc_err_set(err, PC_E_ARG, "expected ':port' after ']'");
        port = close + 2;
        out->is_v6 = true;
    } else {
        const char *colon = NULL;
        for (size_t i = 0; i < n; i++)
            if (s[i] == ':') {
                if (colon != NULL)
                    return pc_err_set(err, PC_E_ARG, "IPv6 addresses need brackets: [addr]:port");
                colon = s + i;
            }
        if (colon == NULL)
            return pc_err_set(err, PC_E_ARG, "missing ':port'");
        host = s;
        host_len = (size_t)(colon - s);
        port = colon + 1;
    }
    size_t port_len = (size_t)(s + n - port);

    if (host_len == 0)
        return pc_err_set(err, PC_E_ARG, "empty host");
    if (host_len >= ADDR_HOST_BYTES)
        return pc_err_set(err, PC_E_ARG, "host longer than %u bytes", ADDR_HOST_BYTES - 1);
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    if (out->is_v6) {
        struct in6_addr a6;
        if (inet_pton(AF_INET6, out->host, &a6) != 1)
            return pc_err_set(err, PC_E_ARG, "not an IPv6 address inside []");
    } else {
        for (size_t i = 0; i < host_len; i++)
            if (!is_host_char(host[i]))
                return pc_err_set(err, PC_E_ARG, "bad character in host");
    }
    if (parse_port(port, port_len, &out->port_num) != 0)
        return pc_err_set(err, PC_E_ARG, "port must be 1..65535");
    snprintf(out->port, sizeof out->port, "%d", out->port_num);
    return 0;
}

void addr_target_format(const struct addr_target *t, char out[ADDR_TARGET_BYTES])
{
    snprintf(out, ADDR_TARGET_BYTES, t->is_v6 ? "[%s]:%s" : "%s:%s", t->host, t->port);
}

void addr_join(const char *ip, int port, char out[ADDR_STR_BYTES])
{
    snprintf(out, ADDR_STR_BYTES, strchr(ip, ':') ? "[%s]:%d" : "%s:%d", ip, port);
}

int addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, char ip[ADDR_IP_BYTES],
                       char str[ADDR_STR_BYTES], int *port)
{
    int p;
    if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
        if (inet_ntop(AF_INET, &s4->sin_addr, ip, ADDR_IP_BYTES) == NULL)
            return PC_E_ARG;
        p = ntohs(s4->sin_port);
    } else if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
        const char *ok;
        if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
            ok = inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], ip, ADDR_IP_BYTES);
        else
            ok = inet_ntop(AF_INET6, &s6->sin6_addr, ip, ADDR_IP_BYTES);
        if (ok == NULL)
            return PC_E_ARG;
        p = ntohs(s6->sin6_port);
    } else {
        return PC_E_ARG;
    }
    if (str != NULL)
        addr_join(ip, p, str);
    if (port != NULL)
        *port = p;
    return 0;
}
