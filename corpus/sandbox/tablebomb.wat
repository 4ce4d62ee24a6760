;; Grows a table 1000 elements at a time until table.grow fails, then traps.
;; expect-outcome: table-limit
(module
  (memory (export "memory") 1)
  (table 1 funcref)
  (func (export "_start")
    (loop $l
      (br_if $l (i32.ne (table.grow (ref.null func) (i32.const 1000)) (i32.const -1))))
    unreachable))
