/* schema_int.h - the tables behind schema.c (schema_data.c). */
#ifndef LDAPAB_SCHEMA_INT_H
#define LDAPAB_SCHEMA_INT_H

#include "schema.h"

extern const struct schema_attr ab_schema_attrs[];
extern const struct schema_class ab_schema_classes[];
extern const char *const ab_schema_syntaxes[];
extern const char *const ab_schema_rules[];

#endif
