/*
 * GnuTLS as libmicrohttpd sees it when the node links libmicrohttpd.a
 * (CMake option PC_MHD_NO_TLS): present, and unable to do anything.
 *
 * The node's HTTP API is plain HTTP on a local port and never asks
 * libmicrohttpd for TLS (no MHD_USE_TLS), yet Debian's libmicrohttpd is built
 * with TLS, so linking it pulls in GnuTLS and eight libraries behind it
 * (p11-kit, nettle, hogweed, gmp, tasn1, idn2, unistring, ffi): ~2.3 MiB of
 * an idle node's resident memory and ~1.3 ms of its start, for code that
 * never runs (docs/performance.md, "Idle footprint"). These definitions
 * stand in for the GnuTLS functions libmicrohttpd.a refers to, with
 * GnuTLS's own prototypes (the header is included, so a mismatch does not
 * compile):
 *
 * - gnutls_global_init / gnutls_global_deinit (called from libmicrohttpd's
 *   library constructor and destructor) succeed and do nothing;
 * - everything else fails: an int result is GNUTLS_E_UNIMPLEMENTED_FEATURE,
 *   a pointer result NULL, a void function does nothing. So a daemon started
 *   with MHD_USE_TLS fails to start (MHD_start_daemon returns NULL) instead
 *   of serving without TLS; test/unit/node_test_mhd_notls.c checks that.
 *
 * A libmicrohttpd.a that needs a GnuTLS function not defined here fails
 * CMake's link check, and the build falls back to the shared library.
 */
#include <stdlib.h>

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>

#define NO_TLS GNUTLS_E_UNIMPLEMENTED_FEATURE

gnutls_alloc_function gnutls_malloc = malloc;

int gnutls_global_init(void)
{
    return 0;
}

void gnutls_global_deinit(void) {}

const char *gnutls_strerror(int error)
{
    (void)error;
    return "TLS is not available in this build of peerchaind (PC_MHD_NO_TLS)";
}

int gnutls_priority_init(gnutls_priority_t *priority_cache, const char *priorities,
                         const char **err_pos)
{
    (void)priority_cache;
    (void)priorities;
    if (err_pos != NULL)
        *err_pos = NULL;
    return NO_TLS;
}

void gnutls_priority_deinit(gnutls_priority_t priority_cache)
{
    (void)priority_cache;
}

int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
    (void)session;
    (void)flags;
    return NO_TLS;
}

void gnutls_deinit(gnutls_session_t session)
{
    (void)session;
}

int gnutls_priority_set(gnutls_session_t session, gnutls_priority_t priority)
{
    (void)session;
    (void)priority;
    return NO_TLS;
}

int gnutls_credentials_set(gnutls_session_t session, gnutls_credentials_type_t type, void *cred)
{
    (void)session;
    (void)type;
    (void)cred;
    return NO_TLS;
}

int gnutls_alpn_set_protocols(gnutls_session_t session, const gnutls_datum_t *protocols,
                              unsigned protocols_size, unsigned flags)
{
    (void)session;
    (void)protocols;
    (void)protocols_size;
    (void)flags;
    return NO_TLS;
}

void gnutls_transport_set_int2(gnutls_session_t session, int r, int s)
{
    (void)session;
    (void)r;
    (void)s;
}

void *gnutls_session_get_ptr(gnutls_session_t session)
{
    (void)session;
    return NULL;
}

void gnutls_session_set_ptr(gnutls_session_t session, void *ptr)
{
    (void)session;
    (void)ptr;
}

int gnutls_handshake(gnutls_session_t session)
{
    (void)session;
    return NO_TLS;
}

int gnutls_bye(gnutls_session_t session, gnutls_close_request_t how)
{
    (void)session;
    (void)how;
    return NO_TLS;
}

ssize_t gnutls_record_recv(gnutls_session_t session, void *data, size_t data_size)
{
    (void)session;
    (void)data;
    (void)data_size;
    return NO_TLS;
}

ssize_t gnutls_record_send(gnutls_session_t session, const void *data, size_t data_size)
{
    (void)session;
    (void)data;
    (void)data_size;
    return NO_TLS;
}

size_t gnutls_record_check_pending(gnutls_session_t session)
{
    (void)session;
    return 0;
}

int gnutls_record_get_direction(gnutls_session_t session)
{
    (void)session;
    return 0;
}

gnutls_cipher_algorithm_t gnutls_cipher_get(gnutls_session_t session)
{
    (void)session;
    return GNUTLS_CIPHER_UNKNOWN;
}

gnutls_protocol_t gnutls_protocol_get_version(gnutls_session_t session)
{
    (void)session;
    return GNUTLS_VERSION_UNKNOWN;
}

int gnutls_certificate_allocate_credentials(gnutls_certificate_credentials_t *res)
{
    (void)res;
    return NO_TLS;
}

void gnutls_certificate_free_credentials(gnutls_certificate_credentials_t sc)
{
    (void)sc;
}

void gnutls_certificate_server_set_request(gnutls_session_t session,
                                           gnutls_certificate_request_t req)
{
    (void)session;
    (void)req;
}

void gnutls_certificate_set_dh_params(gnutls_certificate_credentials_t res,
                                      gnutls_dh_params_t dh_params)
{
    (void)res;
    (void)dh_params;
}

void gnutls_certificate_set_retrieve_function2(gnutls_certificate_credentials_t cred,
                                               gnutls_certificate_retrieve_function2 *func)
{
    (void)cred;
    (void)func;
}

void gnutls_certificate_set_retrieve_function3(gnutls_certificate_credentials_t cred,
                                               gnutls_certificate_retrieve_function3 *func)
{
    (void)cred;
    (void)func;
}

int gnutls_certificate_set_x509_key_mem(gnutls_certificate_credentials_t res,
                                        const gnutls_datum_t *cert, const gnutls_datum_t *key,
                                        gnutls_x509_crt_fmt_t type)
{
    (void)res;
    (void)cert;
    (void)key;
    (void)type;
    return NO_TLS;
}

int gnutls_certificate_set_x509_key_mem2(gnutls_certificate_credentials_t res,
                                         const gnutls_datum_t *cert, const gnutls_datum_t *key,
                                         gnutls_x509_crt_fmt_t type, const char *pass,
                                         unsigned int flags)
{
    (void)res;
    (void)cert;
    (void)key;
    (void)type;
    (void)pass;
    (void)flags;
    return NO_TLS;
}

int gnutls_certificate_set_x509_trust_mem(gnutls_certificate_credentials_t res,
                                          const gnutls_datum_t *ca, gnutls_x509_crt_fmt_t type)
{
    (void)res;
    (void)ca;
    (void)type;
    return NO_TLS;
}

int gnutls_dh_params_init(gnutls_dh_params_t *dh_params)
{
    (void)dh_params;
    return NO_TLS;
}

void gnutls_dh_params_deinit(gnutls_dh_params_t dh_params)
{
    (void)dh_params;
}

int gnutls_dh_params_import_pkcs3(gnutls_dh_params_t params, const gnutls_datum_t *pkcs3_params,
                                  gnutls_x509_crt_fmt_t format)
{
    (void)params;
    (void)pkcs3_params;
    (void)format;
    return NO_TLS;
}

int gnutls_psk_allocate_server_credentials(gnutls_psk_server_credentials_t *sc)
{
    (void)sc;
    return NO_TLS;
}

void gnutls_psk_free_server_credentials(gnutls_psk_server_credentials_t sc)
{
    (void)sc;
}

void gnutls_psk_set_server_credentials_function(gnutls_psk_server_credentials_t cred,
                                                gnutls_psk_server_credentials_function *func)
{
    (void)cred;
    (void)func;
}
