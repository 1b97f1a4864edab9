/*
 * ldbench.c - a small LDAP load generator for rookery-ldapab and slapd.
 *
 *	ldbench -H URI -D BINDDN -w PW -b BASE -m bind|tb|outlook
 *		[-c CLIENTS] [-t SECONDS]
 *
 * Forks CLIENTS processes; each opens one connection and, for SECONDS,
 * either rebinds (bind) or binds once and searches with the filter shape
 * of Thunderbird's autocomplete (tb) or Outlook's resolve (outlook), with
 * a typed string drawn from common name fragments.  Prints one line:
 * "mode=tb clients=8 ops=12345 seconds=10.0 ops_per_sec=1234.5".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LDAP_DEPRECATED 0
#include <ldap.h>

static const char *const typed[] = {"ann", "mül", "smi", "ber", "jör",
				    "oli", "nov", "kow", "ros", "dub",
				    "gar", "ngu", "mar", "lee", "tan"};

static double now(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static LDAP *connect_bind(const char *uri, const char *dn, const char *pw)
{
	struct berval cred = {strlen(pw), (char *)pw};
	int v3 = LDAP_VERSION3;
	LDAP *ld;

	if (ldap_initialize(&ld, uri) != LDAP_SUCCESS)
		return NULL;
	ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3);
	if (ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL,
			     NULL) != LDAP_SUCCESS) {
		ldap_unbind_ext_s(ld, NULL, NULL);
		return NULL;
	}
	return ld;
}

static long run_client(const char *uri, const char *dn, const char *pw,
		       const char *base, const char *mode, double secs,
		       unsigned seed)
{
	static char *attrs[] = {"cn", "mail", "givenName", "sn", NULL};
	struct berval cred = {strlen(pw), (char *)pw};
	double end = now() + secs;
	LDAP *ld = connect_bind(uri, dn, pw);
	char filter[512];
	long ops = 0;

	if (ld == NULL)
		return -1;
	srand(seed);
	while (now() < end) {
		const char *t = typed[rand() % (sizeof(typed) /
						sizeof(typed[0]))];
		LDAPMessage *res = NULL;
		int rc;

		if (strcmp(mode, "bind") == 0) {
			rc = ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred,
					      NULL, NULL, NULL);
		} else {
			if (strcmp(mode, "tb") == 0)
				snprintf(filter, sizeof(filter),
					 "(|(cn=*%s*)(mail=*%s*)(givenName=*%s*)"
					 "(sn=*%s*))", t, t, t, t);
			else
				snprintf(filter, sizeof(filter),
					 "(&(mail=*)(|(mail=%s*)(|(cn=%s*)"
					 "(|(sn=%s*)(givenName=%s*)))))", t, t,
					 t, t);
			rc = ldap_search_ext_s(ld, base, LDAP_SCOPE_SUBTREE,
					       filter, attrs, 0, NULL, NULL,
					       NULL, 100, &res);
			ldap_msgfree(res);
			if (rc == LDAP_SIZELIMIT_EXCEEDED)
				rc = LDAP_SUCCESS;
		}
		if (rc != LDAP_SUCCESS) {
			fprintf(stderr, "ldbench: %s\n", ldap_err2string(rc));
			break;
		}
		ops++;
	}
	ldap_unbind_ext_s(ld, NULL, NULL);
	return ops;
}

int main(int argc, char **argv)
{
	const char *uri = NULL, *dn = "", *pw = "", *base = "", *mode = "tb";
	int clients = 1, ch, fds[2];
	double secs = 10, t0;
	long total = 0, n;

	while ((ch = getopt(argc, argv, "H:D:w:b:m:c:t:")) != -1) {
		switch (ch) {
		case 'H': uri = optarg; break;
		case 'D': dn = optarg; break;
		case 'w': pw = optarg; break;
		case 'b': base = optarg; break;
		case 'm': mode = optarg; break;
		case 'c': clients = atoi(optarg); break;
		case 't': secs = atof(optarg); break;
		default:
			fprintf(stderr, "usage: ldbench -H URI -D DN -w PW "
					"-b BASE -m bind|tb|outlook [-c N] "
					"[-t SECONDS]\n");
			return 2;
		}
	}
	if (uri == NULL || clients < 1 || pipe(fds) < 0)
		return 2;
	t0 = now();
	for (int i = 0; i < clients; i++) {
		if (fork() == 0) {
			close(fds[0]);
			n = run_client(uri, dn, pw, base, mode, secs,
				       (unsigned)i * 7919 + 1);
			if (write(fds[1], &n, sizeof(n)) != sizeof(n))
				_exit(1);
			_exit(0);
		}
	}
	close(fds[1]);
	while (read(fds[0], &n, sizeof(n)) == sizeof(n)) {
		if (n < 0) {
			fprintf(stderr, "ldbench: a client could not bind\n");
			return 1;
		}
		total += n;
	}
	while (wait(NULL) > 0)
		;
	t0 = now() - t0;
	printf("mode=%s clients=%d ops=%ld seconds=%.1f ops_per_sec=%.1f\n",
	       mode, clients, total, t0, total / t0);
	return 0;
}
