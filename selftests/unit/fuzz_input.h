/* SPDX-License-Identifier: GPL-2.0 */
/*
 * fuzz_input.h - what the structure-aware fuzz targets share: the input read
 * as a stream of bytes (zeros once it runs out), and CHECK(), which aborts -
 * a libFuzzer crash, reproducer saved - when an invariant does not hold.
 */
#ifndef KVMIO_LAT_FUZZ_INPUT_H
#define KVMIO_LAT_FUZZ_INPUT_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond, ...)						\
	do {								\
		if (!(cond)) {						\
			fprintf(stderr, "%s: %s: ", __FILE__, #cond);	\
			fprintf(stderr, __VA_ARGS__);			\
			fputc('\n', stderr);				\
			abort();					\
		}							\
	} while (0)

struct in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t u8_of(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline uint16_t u16_of(struct in *in)
{
	return u8_of(in) | (uint16_t)u8_of(in) << 8;
}

#endif /* KVMIO_LAT_FUZZ_INPUT_H */
