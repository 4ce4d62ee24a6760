;; Copies stdin to stdout in 4 KiB reads until end of file (or an error).
;; Used by tests/all/diff.rs for `--stdin F` and scenario `stdin`.
(module
  (import "wasi_snapshot_preview1" "fd_read"
    (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (loop $more
      ;; iov at 0: {1024, 4096}; nread at 8
      (i32.store (i32.const 0) (i32.const 1024))
      (i32.store (i32.const 4) (i32.const 4096))
      (br_if 1 (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
      (br_if 1 (i32.eqz (i32.load (i32.const 8))))
      ;; iov at 16: {1024, nread}
      (i32.store (i32.const 16) (i32.const 1024))
      (i32.store (i32.const 20) (i32.load (i32.const 8)))
      (drop (call $write (i32.const 1) (i32.const 16) (i32.const 1) (i32.const 24)))
      (br $more))))
