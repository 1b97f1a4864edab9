/*
 * tls.h - OpenSSL 3 contexts for every listener and outgoing link.
 *
 * Servers and clients alike use TLS 1.2 as the minimum protocol version,
 * no compression, no renegotiation, and OpenSSL's default cipher list at
 * security level 2.
 */
#ifndef ROOKERY_TLS_H
#define ROOKERY_TLS_H

struct ssl_ctx_st;

/*
 * A server context for cert_file (PEM, chain allowed) and key_file.
 * Returns NULL with an allocated *err_r naming the file and OpenSSL's
 * reason when either cannot be loaded or they do not match.
 */
struct ssl_ctx_st *tls_server_ctx_new(const char *cert_file,
				      const char *key_file, char **err_r);

/*
 * A client context (mux -> store, replica links).  ca_file NULL: the peer's
 * certificate is not verified (say so in the config docs); otherwise it
 * must chain to ca_file.
 */
struct ssl_ctx_st *tls_client_ctx_new(const char *ca_file, char **err_r);

void tls_ctx_free(struct ssl_ctx_st **ctx);

/*
 * Writes a self-signed certificate and key for hostname (2048-bit RSA or
 * P-256, valid 825 days, subjectAltName DNS:hostname + IP:127.0.0.1) to the
 * two paths, mode 0600 for the key.  Used by `rookery run` and tests.
 */
int tls_make_self_signed(const char *hostname, const char *cert_file,
			 const char *key_file, char **err_r);

#endif
