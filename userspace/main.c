// SPDX-License-Identifier: GPL-2.0
/*
 * main.c - kvmio-lat, the reader of kvmio_lat's latency histograms.
 * Everything but main() lives in the other files so tests can link it.
 */
#include "cli.h"

int main(int argc, char **argv)
{
	return kvl_cli(argc, argv, stdout, stderr);
}
