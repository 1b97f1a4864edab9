/*
 * imap_glob.h - LIST pattern matching (imap_glob.c).
 */
#ifndef ROOKERY_STORE_IMAP_GLOB_H
#define ROOKERY_STORE_IMAP_GLOB_H

/*
 * 1 if name matches pattern, where '*' stands for any characters and
 * '%' for any but '/'; everything else matches itself, byte for byte.
 * Time O(strlen(pattern) x strlen(name)) whatever the pattern.
 */
int imap_glob_match(const char *pattern, const char *name);

#endif
