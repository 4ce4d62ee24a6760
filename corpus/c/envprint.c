/*
 * envprint.c - prints every environment variable, one `NAME=value` per line,
 * like `env` with no arguments.
 *
 * Walks the `environ` array that wasi-libc fills from the host at start-up and
 * writes each entry to stdout; a failed write to stdout is reported on stderr
 * and gives exit status 1.
 *
 * Ground truth for the wasm32-wasi build: `_start` reaches the environment
 * (environ_sizes_get / environ_get) and stdio (fd_write on fds 1 and 2).  It
 * opens no file or directory (no path_open, no preopen lookup), reads no
 * command-line arguments and touches no clocks, random numbers or sockets.
 */
#include <stdio.h>

extern char **environ;

int main(void) {
    for (char **entry = environ; entry != NULL && *entry != NULL; entry++) {
        if (fputs(*entry, stdout) == EOF || putchar('\n') == EOF)
            break;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fputs("envprint: error writing to stdout\n", stderr);
        return 1;
    }
    return 0;
}
