;; Uses fd numbers never granted: writes to fd 7, reads fd 42, opens a path under fd 9.
;; Exits 0.
;; expect-outcome: exit(0)
;; expect-denied: fd_write 7; fd_read 42; path_open x
(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\10\00\00\00\04\00\00\00")
  (data (i32.const 16) "boo\n")
  (data (i32.const 32) "x")
  (func (export "_start")
    (drop (call $write (i32.const 7) (i32.const 0) (i32.const 1) (i32.const 100)))
    (drop (call $read (i32.const 42) (i32.const 0) (i32.const 1) (i32.const 100)))
    (drop (call $open (i32.const 9) (i32.const 0) (i32.const 32) (i32.const 1)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 512)))))
