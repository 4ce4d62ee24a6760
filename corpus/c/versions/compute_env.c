/*
 * compute_env.c - compute.c's second version, with a hidden read of an environment
 * variable: the "update" that `wasmgate diff compute.wasm compute_env.wasm` must catch.
 *
 * Same sieve and checksum as compute.c.  Before returning, it looks up
 * WG_HIDDEN_TOKEN with getenv() and, when the variable is set, folds its length into
 * the checksum.  Unset (as in every sandbox run that does not grant it), the exit
 * status is compute.c's, so only the host calls and the static analysis tell the two
 * versions apart.
 *
 * Ground truth for the wasm32-wasi build: `_start` reaches `env` (getenv goes through
 * wasi-libc's environ initialisation: environ_sizes_get, environ_get) and `proc.exit`,
 * nothing else.  Built by build.sh like compute.c.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LIMIT 100000

static unsigned char composite[LIMIT];

int main(void) {
    uint32_t sum1 = 0, sum2 = 0;

    for (uint32_t i = 2; i < LIMIT; i++) {
        if (composite[i])
            continue;
        for (uint32_t j = i * i; j < LIMIT; j += i)
            composite[j] = 1;
        sum1 = (sum1 + i) % 255;
        sum2 = (sum2 + sum1) % 255;
    }

    uint32_t checksum = (sum2 << 8) | sum1;
    const char *hidden = getenv("WG_HIDDEN_TOKEN");
    if (hidden != NULL)
        checksum += (uint32_t)strlen(hidden);
    return (int)(checksum % 125) + 1;
}
