#!/bin/sh
# make bench: every benchmark, each against its peer in the same run.
# Results go to stdout; copy them into bench/RESULTS.md with the date.
set -eu
cd "$(dirname "$0")/.."
echo "# rookery bench $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores"
for b in bench/lmtp.sh bench/sieve.sh bench/imap.sh bench/stall.sh \
	bench/mux.sh; do
	sh "$b"
done
# The address-book server against slapd (writes bench/ldapab/RESULTS.md).
BIN=${BUILD:-build}/bin sh bench/ldapab/run.sh
