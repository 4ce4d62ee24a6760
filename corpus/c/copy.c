/*
 * copy.c - a minimal file copier: `copy SRC DST`.
 *
 * Opens SRC with fopen(SRC, "rb") and DST with fopen(DST, "wb"), then copies
 * SRC into DST in 64 KiB chunks with fread/fwrite.  Every failure (bad usage,
 * open, read, write, close) is reported on stderr and turns into a non-zero
 * exit status.
 *
 * Ground truth for the wasm32-wasi build: `_start` reaches the filesystem
 * through libc, both for reading (path_open + fd_read on SRC) and for writing
 * (path_open + fd_write on DST), plus the preopened-directory lookup
 * (fd_prestat_get / fd_prestat_dir_name) that wasi-libc needs to resolve a
 * path, the command-line arguments (args_get / args_sizes_get) and stderr
 * (fd_write on fd 2).  It touches no environment variables, clocks, random
 * numbers or sockets.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, const char *path) {
    fprintf(stderr, "copy: %s %s: %s\n", what, path, strerror(errno));
    return 1;
}

int main(int argc, char **argv) {
    static unsigned char buf[64 * 1024];

    if (argc != 3) {
        fprintf(stderr, "usage: %s SRC DST\n", argc > 0 ? argv[0] : "copy");
        return 2;
    }
    const char *src_path = argv[1];
    const char *dst_path = argv[2];

    FILE *src = fopen(src_path, "rb");
    if (src == NULL)
        return fail("cannot open", src_path);

    FILE *dst = fopen(dst_path, "wb");
    if (dst == NULL) {
        int status = fail("cannot create", dst_path);
        fclose(src);
        return status;
    }

    int status = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, src)) > 0) {
        if (fwrite(buf, 1, n, dst) != n) {
            status = fail("error writing", dst_path);
            break;
        }
    }
    if (status == 0 && ferror(src))
        status = fail("error reading", src_path);

    fclose(src);
    /* fclose flushes: a failed final write only shows up here. */
    if (fclose(dst) != 0 && status == 0)
        status = fail("error closing", dst_path);
    return status;
}
