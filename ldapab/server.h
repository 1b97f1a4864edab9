/*
 * server.h - ldapab on lib/net.h: raw-mode connections that frame BER
 * PDUs and hand them to the protocol session.
 */
#ifndef LDAPAB_SERVER_H
#define LDAPAB_SERVER_H

struct conn_ops;

/* The listener's arg must be the struct ldapab. */
extern const struct conn_ops ab_ldap_conn_ops;

#endif
