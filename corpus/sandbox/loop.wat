;; An infinite loop with no host call.
;; expect-outcome: fuel-exhausted
(module
  (memory (export "memory") 1)
  (func (export "_start") (loop $l (br $l))))
