/* tap.h -- minimal TAP output for the unit tests (see tests/run.sh). */
#ifndef TAP_H
#define TAP_H
#include <stdio.h>
static int tap_n, tap_failed;
#define OK(cond, ...) do { \
	tap_n++; \
	if (cond) { printf("ok %d - ", tap_n); } \
	else { tap_failed++; printf("not ok %d - ", tap_n); } \
	printf(__VA_ARGS__); \
	if (!(cond)) printf(" (%s:%d: %s)", __FILE__, __LINE__, #cond); \
	putchar('\n'); \
} while (0)
#define TAP_DONE() (printf("1..%d\n", tap_n), tap_failed ? 1 : 0)
#endif
