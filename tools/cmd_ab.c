/*
 * cmd_ab.c - `rookery ab`: address-book identities, LDAP passwords,
 * books, and LDIF / vCard import and export (ldapab/).
 *
 * The verbs open ldapab's Berkeley DB environment directly; they may run
 * while rookery-ldapab runs (the environment is shared, see ldapab/store.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <termios.h>
#include <unistd.h>

#include "config.h"
#include "ldapab/acl.h"
#include "ldapab/dn.h"
#include "ldapab/entry.h"
#include "ldapab/ldif.h"
#include "ldapab/proto.h"
#include "ldapab/provision.h"
#include "ldapab/schema.h"
#include "ldapab/session.h"
#include "ldapab/store.h"
#include "ldapab/util.h"
#include "ldapab/vcard.h"
#include "log.h"
#include "strbuf.h"

int cmd_ab(int argc, char **argv);

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: rookery ab [-c CONFIG] VERB [ARGS]\n"
	    "\n"
	    "Address books served by rookery-ldapab (section [ldapab]).\n"
	    "\n"
	    "  add-account ACCOUNT            create an account identity\n"
	    "                                 and its shared book\n"
	    "  add-mailbox MAILBOX --account ACCOUNT [--manage]\n"
	    "                                 create a mailbox identity and\n"
	    "                                 its personal book; --manage:\n"
	    "                                 read/write on the account book\n"
	    "  remove NAME                    delete an identity and its book\n"
	    "  passwd NAME                    set the LDAP password (read\n"
	    "                                 from the terminal or stdin)\n"
	    "  list                           identities, books and counts\n"
	    "  import NAME FILE [--format ldif|vcard]\n"
	    "                                 add entries to NAME's book\n"
	    "                                 (FILE - = stdin; format is\n"
	    "                                 guessed from the content)\n"
	    "  export NAME [--format ldif|vcard3|vcard4]\n"
	    "                                 print NAME's book\n"
	    "\n"
	    "Bind DNs are cn=NAME,ou=auth,SUFFIX (or the bare address);\n"
	    "books are ou=NAME,ou=ab,SUFFIX.  CONFIG defaults to\n"
	    "$ROOKERY_CONFIG, var/demo/rookery.conf, /etc/rookery/"
	    "rookery.conf.\n");
}

static const char *find_config(const char *opt)
{
	const char *env = getenv("ROOKERY_CONFIG");

	if (opt != NULL)
		return opt;
	if (env != NULL && *env)
		return env;
	if (access("var/demo/rookery.conf", R_OK) == 0)
		return "var/demo/rookery.conf";
	return "/etc/rookery/rookery.conf";
}

static int open_ab(const char *cfgpath, struct ldapab *ab, struct store **st)
{
	const struct config_section *sec;
	struct config *cfg = NULL;
	const char *suffix, *dir;
	char *err = NULL;
	int rc = -1;

	if (config_load(cfgpath, &cfg, &err) < 0) {
		fprintf(stderr, "rookery: %s\n", err);
		free(err);
		return -1;
	}
	sec = config_section(cfg, "ldapab", NULL);
	suffix = config_get(sec, "suffix", NULL);
	dir = config_get(sec, "data_dir", NULL);
	if (sec == NULL || suffix == NULL || dir == NULL) {
		fprintf(stderr,
			"rookery: %s: [ldapab] needs suffix and "
			"data_dir\n",
			cfgpath);
		goto out;
	}
	if (ldapab_init(ab, NULL, suffix) < 0) {
		fprintf(stderr, "rookery: suffix = %s: not a DN\n", suffix);
		goto out;
	}
	if (ab_store_open(dir, st, &err) < 0) {
		fprintf(stderr, "rookery: %s\n", err);
		free(err);
		ldapab_clear(ab);
		goto out;
	}
	ab->store = *st;
	rc = 0;
out:
	config_free(&cfg);
	return rc;
}

static char *read_password(void)
{
	struct termios old, noecho;
	char buf[1024], again[1024];
	int tty = isatty(0);
	size_t n;

	if (tty) {
		tcgetattr(0, &old);
		noecho = old;
		noecho.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &noecho);
		fprintf(stderr, "LDAP password: ");
	}
	if (fgets(buf, sizeof(buf), stdin) == NULL)
		buf[0] = '\0';
	if (tty) {
		fprintf(stderr, "\nAgain: ");
		if (fgets(again, sizeof(again), stdin) == NULL)
			again[0] = '\0';
		tcsetattr(0, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
		if (strcmp(buf, again) != 0) {
			fprintf(stderr, "rookery: passwords differ\n");
			return NULL;
		}
	}
	n = strcspn(buf, "\r\n");
	buf[n] = '\0';
	if (n == 0) {
		fprintf(stderr, "rookery: empty password\n");
		return NULL;
	}
	return xstrdup(buf);
}

static void list_one(const struct principal *p, void *arg)
{
	struct ldapab *ab = arg;
	long n = ab_book_count(ab, p->name);

	printf("%-32s %-8s account=%s%s entries=%ld password=%s\n", p->name,
	       p->kind == PRINCIPAL_ACCOUNT ? "account" : "mailbox", p->account,
	       p->manage ? " manage" : "", n, p->pwhash[0] ? "set" : "none");
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	struct strbuf sb;
	char buf[8192];
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "rookery: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	strbuf_init(&sb);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		strbuf_add(&sb, buf, n);
	if (f != stdin)
		fclose(f);
	return ab_sb_take(&sb, len);
}

struct import_ctx {
	struct ldapab *ab;
	char *book_dn;
	int added, failed;
};

static int store_new_entry(struct import_ctx *ic, struct entry *e,
			   const char *rdn)
{
	char *dn = ab_asprintf("%s,%s", rdn, ic->book_dn), *key, *parent;
	char diag[256];
	struct dn *d;
	int rc;

	if (ab_dn_parse(dn, strlen(dn), &d) < 0) {
		free(dn);
		return LDAP_R_INVALID_DN_SYNTAX;
	}
	key = ab_dn_key(d, 0);
	parent = ab_dn_key(d, 1);
	free(e->dn);
	free(e->ndn);
	e->dn = dn;
	e->ndn = ab_dn_norm(d, 0);
	for (size_t j = 0; j < d->rdn[0].n; j++) {
		struct dn_ava *a = &d->rdn[0].ava[j];
		struct attr *at = a->at ? ab_entry_attr(e, a->at, NULL) : NULL;

		if (a->at &&
		    (at == NULL ||
		     ab_attr_find_value(at, a->value, a->value_len) < 0))
			ab_entry_add_value(e, a->at, NULL, a->value,
					   a->value_len);
	}
	ab_schema_expand_classes(e);
	rc = ab_schema_check_entry(e, diag, sizeof(diag));
	if (rc == LDAP_R_OBJECT_CLASS_VIOLATION &&
	    strstr(diag, "not allowed") != NULL) {
		/* Unusual attributes from other clients: keep them. */
		ab_entry_add_value(e, ab_schema_attr_findz("objectClass"), NULL,
				   "extensibleObject", 16);
		rc = ab_schema_check_entry(e, diag, sizeof(diag));
	}
	if (rc == 0)
		rc = ab_store_add(ic->ab->store, key, parent, e);
	else
		fprintf(stderr, "rookery: %s: %s\n", dn, diag);
	ab_dn_free(&d);
	free(key);
	free(parent);
	return rc;
}

/* Imported entries keep their RDN (or get cn=FN) below the book. */
static int import_one(struct entry *e, void *arg)
{
	struct import_ctx *ic = arg;
	struct strbuf rdn;
	struct attr *cn, *mail;
	struct dn *d = NULL;
	int rc;

	/* Drop what the server maintains and what it does not know. */
	for (size_t i = e->nattrs; i > 0; i--) {
		struct attr *a = &e->attrs[i - 1];

		if (a->type == NULL || (a->type->flags & AT_OPERATIONAL))
			ab_entry_remove_attr(e, a);
	}
	strbuf_init(&rdn);
	if (e->dn[0] && ab_dn_parse(e->dn, strlen(e->dn), &d) == 0 &&
	    d->n > 0 && d->rdn[0].ava[0].at != NULL) {
		strbuf_printf(&rdn, "%s=", d->rdn[0].ava[0].at->names[0]);
		ab_dn_escape_value(&rdn, d->rdn[0].ava[0].value,
				   d->rdn[0].ava[0].value_len);
	} else if ((cn = ab_entry_attr_get(e, "cn")) != NULL) {
		strbuf_adds(&rdn, "cn=");
		ab_dn_escape_value(&rdn, cn->vals[0].bv_val,
				   cn->vals[0].bv_len);
	}
	ab_dn_free(&d);
	if (rdn.len == 0) {
		fprintf(stderr, "rookery: skipping an entry without a name\n");
		ic->failed++;
		goto out;
	}
	rc = store_new_entry(ic, e, rdn.data);
	mail = ab_entry_attr_get(e, "mail");
	if (rc == LDAP_R_ALREADY_EXISTS && mail != NULL) {
		/* Two contacts with one name: tell them apart by mail. */
		strbuf_adds(&rdn, "+mail=");
		ab_dn_escape_value(&rdn, mail->vals[0].bv_val,
				   mail->vals[0].bv_len);
		rc = store_new_entry(ic, e, rdn.data);
	}
	if (rc == 0)
		ic->added++;
	else {
		ic->failed++;
		fprintf(stderr, "rookery: %s: %s\n", rdn.data,
			ab_ldap_result_name(rc));
	}
out:
	strbuf_free(&rdn);
	ab_entry_free(&e);
	return 0;
}

static int do_import(struct ldapab *ab, int argc, char **argv)
{
	const char *format = NULL, *name, *path;
	struct import_ctx ic = {ab, NULL, 0, 0};
	struct principal p;
	char *text, *err = NULL;
	size_t len;
	int n;

	if (argc >= 5 && strcmp(argv[3], "--format") == 0)
		format = argv[4];
	if (argc != 3 && argc != 5) {
		usage(stderr);
		return 2;
	}
	name = argv[1];
	path = argv[2];
	if (ab_store_principal_get(ab->store, name, &p) != 1) {
		fprintf(stderr, "rookery: %s: no such mailbox or account\n",
			name);
		return 1;
	}
	if ((text = slurp(path, &len)) == NULL)
		return 1;
	if (format == NULL)
		format = strcasestr(text, "BEGIN:VCARD") ? "vcard" : "ldif";
	ic.book_dn = ab_book_dn(ab, p.name);
	if (strcasecmp(format, "ldif") == 0)
		n = ab_ldif_parse(text, len, import_one, &ic, &err);
	else if (strncasecmp(format, "vcard", 5) == 0)
		n = ab_vcard_parse(text, len, import_one, &ic, &err);
	else {
		fprintf(stderr, "rookery: --format ldif or vcard\n");
		n = -2;
	}
	free(text);
	free(ic.book_dn);
	if (n == -1) {
		fprintf(stderr, "rookery: %s: %s\n", path, err);
		free(err);
		return 1;
	}
	if (n < 0)
		return 2;
	printf("imported %d of %d entries into %s\n", ic.added, n, p.name);
	return ic.failed ? 1 : 0;
}

struct export_ctx {
	int format; /* 0 ldif, 3, 4 */
	struct strbuf out;
	const char *book_key;
};

static int export_one(struct entry **e, const char *key, void *arg)
{
	struct export_ctx *xc = arg;

	if (strcmp(key, xc->book_key) == 0)
		return 0;
	if (xc->format == 0)
		ab_ldif_write(*e, &xc->out);
	else
		ab_vcard_write(*e, xc->format, &xc->out);
	fwrite(xc->out.data, 1, xc->out.len, stdout);
	strbuf_reset(&xc->out);
	return 0;
}

static int do_export(struct ldapab *ab, int argc, char **argv)
{
	struct export_ctx xc = {0, {NULL, 0, 0}, NULL};
	struct principal p;
	char *bk;
	int rc;

	if (argc == 4 && strcmp(argv[2], "--format") == 0) {
		if (strcasecmp(argv[3], "vcard3") == 0 ||
		    strcasecmp(argv[3], "vcard") == 0)
			xc.format = 3;
		else if (strcasecmp(argv[3], "vcard4") == 0)
			xc.format = 4;
		else if (strcasecmp(argv[3], "ldif") != 0) {
			usage(stderr);
			return 2;
		}
	} else if (argc != 2) {
		usage(stderr);
		return 2;
	}
	if (ab_store_principal_get(ab->store, argv[1], &p) != 1) {
		fprintf(stderr, "rookery: %s: no such mailbox or account\n",
			argv[1]);
		return 1;
	}
	bk = ab_acl_book_key(ab, p.name);
	xc.book_key = bk;
	strbuf_init(&xc.out);
	if (xc.format == 0)
		printf("version: 1\n\n");
	rc = ab_store_scan(ab->store, bk, LDAP_SCOPE_SUB_, export_one, &xc);
	strbuf_free(&xc.out);
	free(bk);
	return rc < 0 ? 1 : 0;
}

static int run_verb(struct ldapab *ab, int argc, char **argv)
{
	const char *verb = argv[0];
	char *err = NULL, *pw;
	int rc = 0;

	if (strcmp(verb, "add-account") == 0 && argc == 2) {
		rc = ab_provision_account(ab, argv[1], &err);
	} else if (strcmp(verb, "add-mailbox") == 0 && argc >= 4 &&
		   strcmp(argv[2], "--account") == 0) {
		int manage = argc == 5 && strcmp(argv[4], "--manage") == 0;

		if (argc != 4 && !manage) {
			usage(stderr);
			return 2;
		}
		rc = ab_provision_mailbox(ab, argv[1], argv[3], manage, &err);
	} else if (strcmp(verb, "remove") == 0 && argc == 2) {
		rc = ab_provision_remove(ab, argv[1], &err);
	} else if (strcmp(verb, "passwd") == 0 && argc == 2) {
		if ((pw = read_password()) == NULL)
			return 1;
		rc = ab_provision_passwd(ab, argv[1], pw, &err);
		free(pw);
	} else if (strcmp(verb, "list") == 0 && argc == 1) {
		rc = ab_store_principal_list(ab->store, list_one, ab);
	} else if (strcmp(verb, "import") == 0) {
		return do_import(ab, argc, argv);
	} else if (strcmp(verb, "export") == 0) {
		return do_export(ab, argc, argv);
	} else {
		usage(stderr);
		return 2;
	}
	if (rc < 0) {
		fprintf(stderr, "rookery: %s\n", err ? err : "failed");
		free(err);
		return 1;
	}
	return 0;
}

int cmd_ab(int argc, char **argv)
{
	const char *cfgpath = NULL;
	struct store *st = NULL;
	struct ldapab ab;
	int i = 1, rc;

	for (int k = 1; k < argc; k++)
		if (strcmp(argv[k], "--help") == 0 ||
		    strcmp(argv[k], "-h") == 0) {
			usage(stdout);
			return 0;
		}
	if (i + 1 < argc && strcmp(argv[i], "-c") == 0) {
		cfgpath = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	if (argv[i][0] == '-') {
		fprintf(stderr,
			"rookery ab: unknown option \"%s\" (see rookery ab "
			"--help)\n",
			argv[i]);
		return 2;
	}
	if (open_ab(find_config(cfgpath), &ab, &st) < 0)
		return 1;
	rc = run_verb(&ab, argc - i, argv + i);
	ab_store_close(&st);
	ldapab_clear(&ab);
	return rc;
}
