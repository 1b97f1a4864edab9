/*
 * tls.c - OpenSSL 3 contexts and self-signed certificates (tls.h).
 */
#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "strbuf.h"

#define TLS_CERT_DAYS 825

/* "what: OpenSSL's reason" as an allocated string; clears the error queue */
static char *tls_error(const char *what)
{
	unsigned long e = ERR_peek_last_error();
	char buf[256];

	if (e != 0)
		ERR_error_string_n(e, buf, sizeof(buf));
	else
		snprintf(buf, sizeof(buf), "unknown error");
	ERR_clear_error();
	return xasprintf("%s: %s", what, buf);
}

static int tls_ctx_common(SSL_CTX *ctx)
{
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1)
		return -1;
	SSL_CTX_set_security_level(ctx, 2);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
				     SSL_OP_NO_RENEGOTIATION |
				     SSL_OP_IGNORE_UNEXPECTED_EOF);
	/* idle sessions by the ten thousand: give buffers back when idle */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	return 0;
}

struct ssl_ctx_st *tls_server_ctx_new(const char *cert_file,
				      const char *key_file, char **err_r)
{
	static const unsigned char sid_ctx[] = "rookery";
	SSL_CTX *ctx;
	char *what;

	ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL || tls_ctx_common(ctx) < 0) {
		*err_r = tls_error("TLS server context");
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
	/*
	 * TLS 1.3: one ticket per handshake, not OpenSSL's two.  Each
	 * connection gets the ticket its own next reconnect presents; a
	 * second one costs an encryption, a MAC and a packet per login.
	 */
	SSL_CTX_set_num_tickets(ctx, 1);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		what = xasprintf("%s: cannot load certificate", cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		what = xasprintf("%s: cannot load private key", key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		what = xasprintf("%s: key does not match certificate %s",
				 key_file, cert_file);
		goto fail;
	}
	return ctx;
fail:
	*err_r = tls_error(what);
	free(what);
	SSL_CTX_free(ctx);
	return NULL;
}

struct ssl_ctx_st *tls_client_ctx_new(const char *ca_file, char **err_r)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	char *what;

	if (ctx == NULL || tls_ctx_common(ctx) < 0) {
		*err_r = tls_error("TLS client context");
		SSL_CTX_free(ctx);
		return NULL;
	}
	if (ca_file == NULL) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	if (SSL_CTX_load_verify_locations(ctx, ca_file, NULL) != 1) {
		what = xasprintf("%s: cannot load CA certificates", ca_file);
		*err_r = tls_error(what);
		free(what);
		SSL_CTX_free(ctx);
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	return ctx;
}

void tls_ctx_free(struct ssl_ctx_st **ctx)
{
	if (*ctx != NULL)
		SSL_CTX_free(*ctx);
	*ctx = NULL;
}

/* --- self-signed certificates ------------------------------------------- */

static int add_ext(X509 *x, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	if (ext == NULL)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok == 1 ? 0 : -1;
}

static X509 *make_cert(EVP_PKEY *key, const char *hostname)
{
	X509 *x = X509_new();
	X509_NAME *name;
	char *san = NULL;
	unsigned char serial[16];
	BIGNUM *bn = NULL;
	int ok = 0;

	if (x == NULL)
		return NULL;
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f; /* positive */
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	if (bn == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto out;
	if (X509_set_version(x, 2) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x),
			    (long)TLS_CERT_DAYS * 86400) == NULL ||
	    X509_set_pubkey(x, key) != 1)
		goto out;
	name = X509_get_subject_name(x);
	if (X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
				       (const unsigned char *)"Rookery", -1, -1,
				       0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)hostname, -1, -1,
				       0) != 1 ||
	    X509_set_issuer_name(x, name) != 1)
		goto out;
	san = xasprintf("DNS:%s,IP:127.0.0.1", hostname);
	if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, NID_key_usage,
		    "critical,digitalSignature,"
		    "keyEncipherment") < 0 ||
	    add_ext(x, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
	    add_ext(x, NID_subject_key_identifier, "hash") < 0 ||
	    add_ext(x, NID_subject_alt_name, san) < 0)
		goto out;
	if (X509_sign(x, key, EVP_sha256()) == 0)
		goto out;
	ok = 1;
out:
	free(san);
	BN_free(bn);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static int write_pem(const char *path, int mode, X509 *x, EVP_PKEY *key)
{
	FILE *f;
	int fd, ok;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -1;
	fchmod(fd, (mode_t)mode);
	f = fdopen(fd, "w");
	if (f == NULL) {
		close(fd);
		return -1;
	}
	if (x != NULL)
		ok = PEM_write_X509(f, x);
	else
		ok = PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0)
		ok = 0;
	if (ok != 1 && errno == 0)
		errno = EIO;
	return ok == 1 ? 0 : -1;
}

int tls_make_self_signed(const char *hostname, const char *cert_file,
			 const char *key_file, char **err_r)
{
	EVP_PKEY *key;
	X509 *x;

	if (hostname == NULL || *hostname == '\0')
		hostname = "localhost";
	/* P-256: as strong as RSA-3072, and fast for tests and demos */
	key = EVP_EC_gen("P-256");
	if (key == NULL) {
		*err_r = tls_error("generating a P-256 key");
		return -1;
	}
	x = make_cert(key, hostname);
	if (x == NULL) {
		*err_r = tls_error("building the certificate");
		EVP_PKEY_free(key);
		return -1;
	}
	errno = 0;
	if (write_pem(key_file, 0600, NULL, key) < 0) {
		*err_r = xasprintf("%s: %s", key_file, strerror(errno));
		goto fail;
	}
	if (write_pem(cert_file, 0644, x, NULL) < 0) {
		*err_r = xasprintf("%s: %s", cert_file, strerror(errno));
		goto fail;
	}
	X509_free(x);
	EVP_PKEY_free(key);
	return 0;
fail:
	ERR_clear_error();
	X509_free(x);
	EVP_PKEY_free(key);
	return -1;
}
