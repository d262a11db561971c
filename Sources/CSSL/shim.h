// OpenSSL's libssl: the HTTP server's TLS (server contexts, non-blocking sessions on the
// connection's socket). OpenSSL spells several settings as macros, which Swift cannot call;
// the inline functions below give them names Swift imports.
#include <openssl/ssl.h>
#include <openssl/err.h>

/// The options every server context gets: no renegotiation (a client cannot make a write wait
/// on a read, or spend the server's CPU on repeated handshakes), no compression (CRIME), and a
/// peer's close without close_notify read as end of stream, as for plain TCP.
static inline uint64_t CSSL_serverOptions(void) {
    return SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF;
}

/// The modes a non-blocking writer needs: `SSL_write` may return after one record, and a write
/// retried after `SSL_ERROR_WANT_WRITE` may pass the same bytes from a moved, longer buffer;
/// idle connections give their record buffers back.
static inline long CSSL_nonBlockingModes(void) {
    return SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS;
}

static inline int CSSL_setMinimumVersion(SSL_CTX *context, int version) {
    return (int)SSL_CTX_set_min_proto_version(context, version);
}

static inline long CSSL_setModes(SSL_CTX *context, long modes) {
    return SSL_CTX_set_mode(context, modes);
}
