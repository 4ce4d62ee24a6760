;; Writes into the read-only preopen /data (fd 3): creates `new.txt`, opens `in.txt` for
;; writing with truncation, deletes `in.txt`. Exits 0.
;; expect-outcome: exit(0)
;; expect-denied: path_open new.txt; path_open in.txt; path_unlink_file in.txt
(module
  (import "wasi_snapshot_preview1" "path_open"
    (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_unlink_file"
    (func $unlink (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "new.txt")
  (data (i32.const 32) "in.txt")
  (func (export "_start")
    ;; oflags 1|8 = creat|trunc, rights 64 = fd_write
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 7)
      (i32.const 9) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 512)))
    (drop (call $open (i32.const 3) (i32.const 0) (i32.const 32) (i32.const 6)
      (i32.const 8) (i64.const 64) (i64.const 0) (i32.const 0) (i32.const 512)))
    (drop (call $unlink (i32.const 3) (i32.const 32) (i32.const 6)))))
