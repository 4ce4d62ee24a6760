;; Reads the wall and monotonic clocks, sleeps 1.5 s, reads them again, draws 16 random
;; bytes, and prints all of it (raw bytes) to stdout. Used to show two runs are identical.
;; expect-outcome: exit(0)
(module
  (import "wasi_snapshot_preview1" "clock_time_get" (func $now (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $rand (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (func (export "_start")
    (drop (call $now (i32.const 0) (i64.const 1) (i32.const 1024)))
    (drop (call $now (i32.const 1) (i64.const 1) (i32.const 1032)))
    (i32.store8 (i32.const 8) (i32.const 0))
    (i32.store (i32.const 16) (i32.const 1))
    (i64.store (i32.const 24) (i64.const 1500000000))
    (drop (call $poll (i32.const 0) (i32.const 128) (i32.const 1) (i32.const 256)))
    (drop (call $now (i32.const 0) (i64.const 1) (i32.const 1040)))
    (drop (call $now (i32.const 1) (i64.const 1) (i32.const 1048)))
    (drop (call $rand (i32.const 1056) (i32.const 16)))
    ;; iovec at 512: buf 1024, len 48
    (i32.store (i32.const 512) (i32.const 1024))
    (i32.store (i32.const 516) (i32.const 48))
    (drop (call $write (i32.const 1) (i32.const 512) (i32.const 1) (i32.const 520)))))
