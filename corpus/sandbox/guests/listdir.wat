;; Lists its preopen (fd 3) and stats one file in it, then writes the raw bytes to stdout:
;; the fd_readdir buffer, then the first 16 bytes (dev, ino) of path_filestat_get("a").
;; Used by tests/all/diff.rs: the listing must come sorted by name (".", "..", then the rest)
;; with virtual inode numbers (1, 2, ... in order of first sight), identical on every run,
;; whatever order and inodes the host's fresh copy has.
(module
  (import "wasi_snapshot_preview1" "fd_readdir"
    (func $readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_filestat_get"
    (func $stat (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 600) "a")
  (func (export "_start")
    ;; readdir(fd 3, buf 1024, len 4096, cookie 0, bufused at 16)
    (drop (call $readdir (i32.const 3) (i32.const 1024) (i32.const 4096) (i64.const 0) (i32.const 16)))
    ;; path_filestat_get(fd 3, no flags, "a", filestat at 512)
    (drop (call $stat (i32.const 3) (i32.const 0) (i32.const 600) (i32.const 1) (i32.const 512)))
    ;; Two writes (wasmtime-wasi writes one iovec per fd_write): {1024, bufused}, {512, 16}.
    (i32.store (i32.const 32) (i32.const 1024))
    (i32.store (i32.const 36) (i32.load (i32.const 16)))
    (drop (call $write (i32.const 1) (i32.const 32) (i32.const 1) (i32.const 20)))
    (i32.store (i32.const 40) (i32.const 512))
    (i32.store (i32.const 44) (i32.const 16))
    (drop (call $write (i32.const 1) (i32.const 40) (i32.const 1) (i32.const 20)))))
