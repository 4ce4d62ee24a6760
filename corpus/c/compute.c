/*
 * compute.c - pure computation, no I/O at all.
 *
 * Runs a sieve of Eratosthenes over [0, LIMIT), then folds every prime found
 * into a Fletcher-16 style checksum.  The program prints nothing: its only
 * result is the exit status, the checksum reduced into 1..125 (WASI hosts
 * reject proc_exit codes of 126 and above, and 0 would look like "no result").
 *
 * Ground truth for the wasm32-wasi build: `_start` reaches no filesystem,
 * environment, arguments, clock, random or network capability.  The only WASI
 * import in the module is proc_exit, which wasi-libc's crt1 calls to return a
 * non-zero status from main.
 */
#include <stdint.h>

#define LIMIT 100000

static unsigned char composite[LIMIT];

int main(void) {
    uint32_t sum1 = 0, sum2 = 0;

    for (uint32_t i = 2; i < LIMIT; i++) {
        if (composite[i])
            continue;
        /* i is prime: mark its multiples, then feed it to the checksum. */
        for (uint32_t j = i * i; j < LIMIT; j += i)
            composite[j] = 1;
        sum1 = (sum1 + i) % 255;
        sum2 = (sum2 + sum1) % 255;
    }

    uint32_t checksum = (sum2 << 8) | sum1;
    return (int)(checksum % 125) + 1;
}
