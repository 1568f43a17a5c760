/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cli.h - the kvmio-lat command line: show, watch, compare, reset.
 */
#ifndef KVMIO_LAT_CLI_H
#define KVMIO_LAT_CLI_H

#include <stdio.h>

/* Exit codes. */
#define KVL_EXIT_OK	0
#define KVL_EXIT_ERROR	1	/* runtime: bad snapshot, no module, ... */
#define KVL_EXIT_USAGE	2	/* bad command line */

/* Run one command line, printing to @out and @err; returns the exit code. */
int kvl_cli(int argc, char **argv, FILE *out, FILE *err);

#endif /* KVMIO_LAT_CLI_H */
