/*
 * fuzz.h - the one entry point every fuzz target defines.
 *
 * Built with clang -fsanitize=fuzzer (configure --enable-fuzzing) each
 * target is a libFuzzer binary; otherwise driver.c replays files, so
 * make check runs every target over its corpus with any compiler.
 */
#ifndef SLOWSPAM_FUZZ_H
#define SLOWSPAM_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort, with a message, when a property of the code under test fails. */
#define FUZZ_CHECK(cond) do {						\
	if (!(cond)) {							\
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,	\
		    __LINE__, #cond);					\
		abort();						\
	}								\
} while (0)

#endif /* SLOWSPAM_FUZZ_H */
