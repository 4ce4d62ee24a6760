;; A WASI 0.2 command component that opens a TCP socket and connects to 127.0.0.1:9
;; (Debian's wasi-libc has no `socket()`, so this is written by hand against the WIT of
;; wasi:sockets 0.2). `run` returns `err` (exit 1) as soon as a step fails, `ok` once
;; connected. The escape suite's policy grants no network: wasmtime-wasi refuses the
;; address when the connect is polled, so `finish-connect` returns `access-denied`, and the
;; address is recorded on the `block` call that asked for it. With a grant of the address
;; (tests/all/sandbox_p2.rs rewrites the port line to a listener's port) it connects.
;; expect-outcome: exit(1)
;; expect-denied: [method]pollable.block 127.0.0.1:9; [method]tcp-socket.finish-connect null
(component $C
  (import "wasi:io/poll@0.2.0" (instance $poll
    (export "pollable" (type $p (sub resource)))
    (export "[method]pollable.block" (func (param "self" (borrow $p))))))
  (alias export $poll "pollable" (type $pollable))
  (import "wasi:io/streams@0.2.0" (instance $streams
    (export "input-stream" (type (sub resource)))
    (export "output-stream" (type (sub resource)))))
  (alias export $streams "input-stream" (type $input-stream))
  (alias export $streams "output-stream" (type $output-stream))
  (import "wasi:sockets/network@0.2.0" (instance $network
    (export "network" (type (sub resource)))))
  (alias export $network "network" (type $network-t))
  (import "wasi:sockets/instance-network@0.2.0" (instance $inet
    (alias outer $C $network-t (type $n))
    (export "instance-network" (func (result (own $n))))))
  (import "wasi:sockets/tcp@0.2.0" (instance $tcp
    (alias outer $C $network-t (type $net))
    (alias outer $C $pollable (type $poll))
    (alias outer $C $input-stream (type $in))
    (alias outer $C $output-stream (type $out))
    (export "tcp-socket" (type $sock (sub resource)))
    ;; Records, variants and enums in an imported function's type must be named (exported).
    (type $ec (enum "unknown" "access-denied" "not-supported" "invalid-argument"
      "out-of-memory" "timeout" "concurrency-conflict" "not-in-progress" "would-block"
      "invalid-state" "new-socket-limit" "address-not-bindable" "address-in-use"
      "remote-unreachable" "connection-refused" "connection-reset" "connection-aborted"
      "datagram-too-large" "name-unresolvable" "temporary-resolver-failure"
      "permanent-resolver-failure"))
    (export "error-code" (type $error-code (eq $ec)))
    (type $v4 (record (field "port" u16) (field "address" (tuple u8 u8 u8 u8))))
    (export "ipv4-socket-address" (type $ipv4 (eq $v4)))
    (type $v6 (record (field "port" u16) (field "flow-info" u32)
      (field "address" (tuple u16 u16 u16 u16 u16 u16 u16 u16)) (field "scope-id" u32)))
    (export "ipv6-socket-address" (type $ipv6 (eq $v6)))
    (type $a (variant (case "ipv4" $ipv4) (case "ipv6" $ipv6)))
    (export "ip-socket-address" (type $addr (eq $a)))
    (export "[method]tcp-socket.start-connect" (func (param "self" (borrow $sock))
      (param "network" (borrow $net)) (param "remote-address" $addr)
      (result (result (error $error-code)))))
    (export "[method]tcp-socket.finish-connect" (func (param "self" (borrow $sock))
      (result (result (tuple (own $in) (own $out)) (error $error-code)))))
    (export "[method]tcp-socket.subscribe" (func (param "self" (borrow $sock))
      (result (own $poll))))))
  (alias export $tcp "tcp-socket" (type $tcp-socket))
  (import "wasi:sockets/tcp-create-socket@0.2.0" (instance $create
    (alias outer $C $tcp-socket (type $sock))
    (type $ec (enum "unknown" "access-denied" "not-supported" "invalid-argument"
      "out-of-memory" "timeout" "concurrency-conflict" "not-in-progress" "would-block"
      "invalid-state" "new-socket-limit" "address-not-bindable" "address-in-use"
      "remote-unreachable" "connection-refused" "connection-reset" "connection-aborted"
      "datagram-too-large" "name-unresolvable" "temporary-resolver-failure"
      "permanent-resolver-failure"))
    (export "error-code" (type $error-code (eq $ec)))
    (type $f (enum "ipv4" "ipv6"))
    (export "ip-address-family" (type $family (eq $f)))
    (export "create-tcp-socket" (func (param "address-family" $family)
      (result (result (own $sock) (error $error-code)))))))

  ;; The memory the lowered functions write their results into.
  (core module $Memory (memory (export "mem") 1))
  (core instance $memory (instantiate $Memory))
  (alias core export $memory "mem" (core memory $mem))

  (core func $instance-network (canon lower (func $inet "instance-network")))
  (core func $create-tcp-socket
    (canon lower (func $create "create-tcp-socket") (memory $mem)))
  (core func $start-connect
    (canon lower (func $tcp "[method]tcp-socket.start-connect") (memory $mem)))
  (core func $finish-connect
    (canon lower (func $tcp "[method]tcp-socket.finish-connect") (memory $mem)))
  (core func $subscribe (canon lower (func $tcp "[method]tcp-socket.subscribe")))
  (core func $block (canon lower (func $poll "[method]pollable.block")))

  (core module $Main
    (import "env" "mem" (memory 1))
    (import "env" "instance-network" (func $instance-network (result i32)))
    (import "env" "create-tcp-socket" (func $create (param i32 i32)))
    ;; self, network, then ip-socket-address flattened: case, then 11 joined payload slots.
    (import "env" "start-connect" (func $start-connect
      (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)))
    (import "env" "finish-connect" (func $finish-connect (param i32 i32)))
    (import "env" "subscribe" (func $subscribe (param i32) (result i32)))
    (import "env" "block" (func $block (param i32)))
    ;; 0 is `ok`, 1 is `err`.
    (func (export "run") (result i32)
      (local $net i32) (local $sock i32)
      (local.set $net (call $instance-network))
      ;; create-tcp-socket(ipv4): result at 64 (tag byte, handle at +4).
      (call $create (i32.const 0) (i32.const 64))
      (if (i32.load8_u (i32.const 64)) (then (return (i32.const 1))))
      (local.set $sock (i32.load (i32.const 68)))
      (call $start-connect (local.get $sock) (local.get $net)
        (i32.const 0)                  ;; case ipv4
        (i32.const 9)                  ;; port
        (i32.const 127) (i32.const 0) (i32.const 0) (i32.const 1)
        (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)
        (i32.const 96))
      (if (i32.load8_u (i32.const 96)) (then (return (i32.const 1))))
      (call $block (call $subscribe (local.get $sock)))
      (call $finish-connect (local.get $sock) (i32.const 128))
      (i32.load8_u (i32.const 128))))
  (core instance $main (instantiate $Main
    (with "env" (instance
      (export "mem" (memory $mem))
      (export "instance-network" (func $instance-network))
      (export "create-tcp-socket" (func $create-tcp-socket))
      (export "start-connect" (func $start-connect))
      (export "finish-connect" (func $finish-connect))
      (export "subscribe" (func $subscribe))
      (export "block" (func $block))))))

  (func $run (result (result)) (canon lift (core func $main "run")))
  (instance $run-instance (export "run" (func $run)))
  (export "wasi:cli/run@0.2.0" (instance $run-instance)))
