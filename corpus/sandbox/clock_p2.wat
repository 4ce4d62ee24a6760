;; The WASI 0.2 twin of clock.wat, as a hand-written command component: reads the wall and
;; monotonic clocks, sleeps 1.5 s (subscribe-duration, then block on the pollable), reads
;; both clocks again and draws a random u64. Every value it sees is in the trace's results, so
;; two runs with byte-identical traces saw the same clocks and randomness. Under the harness's
;; virtual time the sleep passes at once and moves the clocks by exactly 1.5 s.
;; expect-outcome: exit(0)
(component $C
  (import "wasi:io/poll@0.2.0" (instance $poll
    (export "pollable" (type $p (sub resource)))
    (export "[method]pollable.block" (func (param "self" (borrow $p))))))
  (alias export $poll "pollable" (type $pollable))
  (import "wasi:clocks/monotonic-clock@0.2.0" (instance $mono
    (alias outer $C $pollable (type $p))
    (export "now" (func (result u64)))
    (export "subscribe-duration" (func (param "when" u64) (result (own $p))))))
  (import "wasi:clocks/wall-clock@0.2.0" (instance $wall
    (type $dt (record (field "seconds" u64) (field "nanoseconds" u32)))
    (export "datetime" (type $datetime (eq $dt)))
    (export "now" (func (result $datetime)))))
  (import "wasi:random/random@0.2.0" (instance $random
    (export "get-random-u64" (func (result u64)))))

  (core module $Memory (memory (export "mem") 1))
  (core instance $memory (instantiate $Memory))
  (alias core export $memory "mem" (core memory $mem))

  (core func $mono-now (canon lower (func $mono "now")))
  (core func $subscribe (canon lower (func $mono "subscribe-duration")))
  (core func $wall-now (canon lower (func $wall "now") (memory $mem)))
  (core func $block (canon lower (func $poll "[method]pollable.block")))
  (core func $random (canon lower (func $random "get-random-u64")))

  (core module $Main
    (import "env" "mem" (memory 1))
    (import "env" "mono-now" (func $mono-now (result i64)))
    (import "env" "subscribe" (func $subscribe (param i64) (result i32)))
    (import "env" "wall-now" (func $wall-now (param i32)))
    (import "env" "block" (func $block (param i32)))
    (import "env" "random" (func $random (result i64)))
    (func (export "run") (result i32)
      (call $wall-now (i32.const 0))
      (drop (call $mono-now))
      (call $block (call $subscribe (i64.const 1500000000)))
      (call $wall-now (i32.const 16))
      (drop (call $mono-now))
      (drop (call $random))
      (i32.const 0)))
  (core instance $main (instantiate $Main
    (with "env" (instance
      (export "mem" (memory $mem))
      (export "mono-now" (func $mono-now))
      (export "subscribe" (func $subscribe))
      (export "wall-now" (func $wall-now))
      (export "block" (func $block))
      (export "random" (func $random))))))

  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $run-instance (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run-instance)))
