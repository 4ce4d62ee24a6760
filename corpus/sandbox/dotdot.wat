;; Escapes the preopen /data (fd 3) by path: `../secret`, `sub/../../secret`, an absolute
;; path `/etc/passwd`, then opens the granted `in.txt` (allowed). Exits 0.
;; expect-outcome: exit(0)
;; expect-denied: path_open ../secret; path_open sub/../../secret; path_open /etc/passwd
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "../secret")
  (data (i32.const 32) "sub/../../secret")
  (data (i32.const 64) "/etc/passwd")
  (data (i32.const 96) "in.txt")
  (func (export "_start")
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 9)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 512)))
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 32) (i32.const 16)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 512)))
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 11)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 512)))
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 96) (i32.const 6)
      (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 512)))))
