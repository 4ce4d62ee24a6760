//! The checker on the call-constraint fixtures (`corpus/fixtures/calls/`), and on shapes the
//! evaluator must not get wrong (merges, loops).

use super::*;

fn outcome(wat: &str, import: u32, arg: u32, allowed: Allowed) -> Outcome {
    let wasm = wat::parse_str(wat).unwrap();
    let analysis = wasmgate_analyzer::analyze(&wasm).unwrap();
    let mut c = Checker::new(&wasm, &analysis).unwrap();
    c.check(&Query {
        import,
        arg,
        allowed,
        timeout_ms: 10_000,
    })
}

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../corpus/fixtures/calls/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn stdio() -> Allowed {
    Allowed {
        one_of: vec![1, 2],
        ..Allowed::default()
    }
}

#[cfg(feature = "z3")]
fn verdicts(o: &Outcome) -> Vec<(String, &'static str)> {
    o.sites
        .iter()
        .map(|s| {
            let v = match s.verdict {
                Verdict::Proven => "proven",
                Verdict::Violated(_) => "violated",
                Verdict::Unknown { .. } => "unknown",
            };
            (s.function.clone(), v)
        })
        .collect()
}

#[cfg(feature = "z3")]
#[test]
fn stdio_only_is_proven_at_every_site() {
    let o = outcome(&fixture("stdio_only.wat"), 0, 0, stdio());
    assert_eq!(
        verdicts(&o),
        [("out".to_string(), "proven"), ("err".to_string(), "proven")]
    );
    // The same code breaks a narrower constraint: `out` may pass 2.
    let only1 = Allowed {
        one_of: vec![1],
        ..Allowed::default()
    };
    let o = outcome(&fixture("stdio_only.wat"), 0, 0, only1);
    match &o.sites[0].verdict {
        Verdict::Violated(cx) => {
            assert_eq!(cx.value, 2);
            assert_eq!(cx.entry_point.as_deref(), Some("out"));
            assert_eq!(cx.inputs.len(), 1);
            assert_eq!(cx.inputs[0].1 & 1, 1, "{cx:?}");
        }
        v => panic!("{v:?}"),
    }
}

#[cfg(feature = "z3")]
#[test]
fn a_caller_passing_5_violates_with_the_caller_named() {
    let o = outcome(&fixture("param_set_by_caller.wat"), 0, 0, stdio());
    assert_eq!(o.sites.len(), 1);
    let s = &o.sites[0];
    assert_eq!(s.function, "log");
    assert_eq!(s.entry_points, ["_start", "log_stdout"]);
    let Verdict::Violated(cx) = &s.verdict else {
        panic!("{s:?}")
    };
    assert_eq!(cx.value, 5);
    assert_eq!(cx.entry_point.as_deref(), Some("_start"));
    let chain: Vec<&str> = cx.chain.iter().map(|s| s.function.as_str()).collect();
    assert_eq!(chain, ["main", "log"]);
    assert!(cx.inputs.is_empty());
}

#[test]
fn a_descriptor_loaded_from_memory_is_unknown_with_the_load_site() {
    let o = outcome(&fixture("fd_from_memory.wat"), 0, 0, stdio());
    assert_eq!(o.sites.len(), 1);
    let Verdict::Unknown { reasons } = &o.sites[0].verdict else {
        panic!("{o:?}")
    };
    if SOLVER {
        assert_eq!(reasons.len(), 1, "{reasons:?}");
        assert_eq!(reasons[0].what, "memory load");
        assert_eq!(reasons[0].function, "write");
        assert!(reasons[0].offset.is_some());
    } else {
        assert_eq!(
            reasons[0].what,
            "built without the SMT solver (feature `smt`)"
        );
    }
}

#[test]
fn an_import_never_called_has_no_site() {
    let only_read = Allowed {
        bits_clear: 1,
        ..Allowed::default()
    };
    let o = outcome(&fixture("never_called.wat"), 1, 3, only_read);
    assert!(o.sites.is_empty(), "{o:?}");
}

/// Values merged from two branches, or changed in a loop, are not constants any more.
#[cfg(feature = "z3")]
#[test]
fn merged_and_loop_values_are_unknown() {
    let merged = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (func (export "f") (param $c i32) (local $fd i32)
        (local.set $fd (i32.const 1))
        (if (i32.load (i32.const 0)) (then (local.set $fd (i32.const 7))))
        (drop (call $w (local.get $fd) (i32.const 0) (i32.const 0) (i32.const 0))))
      (memory 1))"#;
    let o = outcome(merged, 0, 0, stdio());
    let Verdict::Unknown { reasons } = &o.sites[0].verdict else {
        panic!("{o:?}")
    };
    assert_eq!(reasons[0].what, "value merged from several paths");
    let looped = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (func (export "f") (local $fd i32)
        (local.set $fd (i32.const 1))
        (loop $l
          (drop (call $w (local.get $fd) (i32.const 0) (i32.const 0) (i32.const 0)))
          (local.set $fd (i32.add (local.get $fd) (i32.const 1)))
          (br_if $l (i32.lt_u (local.get $fd) (i32.const 9))))))"#;
    let o = outcome(looped, 0, 0, stdio());
    let Verdict::Unknown { reasons } = &o.sites[0].verdict else {
        panic!("{o:?}")
    };
    assert_eq!(reasons[0].what, "value changed in a loop");
}

/// Path conditions: the call happens only when the descriptor is 1 or 2.
#[cfg(feature = "z3")]
#[test]
fn a_guarding_if_is_a_path_condition() {
    let guarded = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (func (export "f") (param $fd i32)
        (if (i32.and (i32.ge_u (local.get $fd) (i32.const 1)) (i32.le_u (local.get $fd) (i32.const 2)))
          (then (drop (call $w (local.get $fd) (i32.const 0) (i32.const 0) (i32.const 0)))))))"#;
    let o = outcome(guarded, 0, 0, stdio());
    assert_eq!(verdicts(&o), [("func[1]".to_string(), "proven")]);
    let unguarded = guarded.replace("(i32.const 2)))", "(i32.const 3)))");
    let o = outcome(&unguarded, 0, 0, stdio());
    match &o.sites[0].verdict {
        Verdict::Violated(cx) => assert_eq!(cx.value, 3),
        v => panic!("{v:?}"),
    }
}

/// An import in a table is called by `call_indirect` of its type: that call is a site; a
/// parameter of a function only called through the table is unknown, not free.
#[cfg(feature = "z3")]
#[test]
fn calls_through_a_table_are_sites_and_their_targets_parameters_are_unknown() {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (type $t (func (param i32 i32 i32 i32) (result i32)))
      (type $u (func (param i32)))
      (table 2 funcref)
      (elem (i32.const 0) $w $log)
      (func $log (type $u) (param $fd i32)
        (drop (call $w (local.get $fd) (i32.const 0) (i32.const 0) (i32.const 0))))
      (func (export "run")
        (drop (call_indirect (type $t) (i32.const 7) (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))
        (call_indirect (type $u) (i32.const 1) (i32.const 1))))"#;
    let o = outcome(wat, 0, 0, stdio());
    assert_eq!(o.sites.len(), 2, "{o:?}");
    let direct = o.sites.iter().find(|s| !s.indirect).unwrap();
    let Verdict::Unknown { reasons } = &direct.verdict else {
        panic!("{o:?}")
    };
    assert_eq!(
        reasons[0].what,
        "parameter of a function called through a table or reference"
    );
    let through_table = o.sites.iter().find(|s| s.indirect).unwrap();
    match &through_table.verdict {
        Verdict::Violated(cx) => assert_eq!(cx.value, 7),
        v => panic!("{v:?}"),
    }
}

/// An import in a table reached by a `call_indirect` whose index the analysis cannot resolve
/// (a parameter): the calling function is a site through the dispatch node, never "no site".
#[cfg(feature = "z3")]
#[test]
fn an_unresolved_call_indirect_that_may_reach_an_import_is_a_site() {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (type $t (func (param i32 i32 i32 i32) (result i32)))
      (table 2 funcref)
      (elem (i32.const 0) $w)
      (func (export "run") (param $i i32)
        (drop (call_indirect (type $t) (i32.const 7) (i32.const 0) (i32.const 0) (i32.const 0) (local.get $i)))))"#;
    let o = outcome(wat, 0, 0, stdio());
    assert_eq!(o.sites.len(), 1, "{o:?}");
    let site = &o.sites[0];
    assert!(site.indirect, "{o:?}");
    assert_eq!(site.function, "func[1]"); // no name section: the index of `run`
    assert!(!matches!(site.verdict, Verdict::Proven), "{o:?}");
}

/// Fail closed: built without the solver, every site of every fixture is unknown, even
/// where the value is a constant.
#[cfg(not(feature = "z3"))]
#[test]
fn without_the_solver_every_site_is_unknown() {
    for f in [
        "stdio_only.wat",
        "param_set_by_caller.wat",
        "fd_from_memory.wat",
    ] {
        let o = outcome(&fixture(f), 0, 0, stdio());
        assert!(!o.sites.is_empty(), "{f}");
        for s in &o.sites {
            match &s.verdict {
                Verdict::Unknown { reasons } => assert_eq!(
                    reasons[0].what, "built without the SMT solver (feature `smt`)",
                    "{f}"
                ),
                v => panic!("{f}: {v:?}"),
            }
        }
    }
}

/// Regression (adversarial review): a caller that calls `$w` directly with 1 *and* through a
/// `call_indirect` the index analysis resolved to `$w` (with 7) must not be read as passing
/// only 1: the resolved call's arguments are unknown, so the site is not proven.
#[cfg(feature = "z3")]
#[test]
fn a_caller_with_a_direct_and_a_resolved_indirect_call_is_not_read_as_direct_only() {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (type $t (func (param i32)))
      (table 1 funcref)
      (elem (i32.const 0) $w)
      (func $w (param $fd i32)
        (drop (call $fd_write (local.get $fd) (i32.const 0) (i32.const 0) (i32.const 0))))
      (func (export "run")
        (call $w (i32.const 1))
        (call_indirect (type $t) (i32.const 7) (i32.const 0))))"#;
    let o = outcome(wat, 0, 0, stdio());
    assert_eq!(verdicts(&o), [("w".to_string(), "unknown")], "{o:?}");
}

/// Regression (adversarial review): Emscripten's JS glue calls `invoke_*`'s table entry with
/// the module's arguments; an import in that table is called through it, so the call of the
/// trampoline is a site (unknown), never "no site, proven vacuously".
#[cfg(feature = "z3")]
#[test]
fn an_import_called_through_an_invoke_trampoline_has_an_unknown_site() {
    let wat = r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
      (import "env" "invoke_iiiii" (func $inv (param i32 i32 i32 i32 i32) (result i32)))
      (table (export "__indirect_function_table") 2 funcref)
      (elem (i32.const 1) func $fd_write)
      (memory (export "memory") 1)
      (func (export "_start")
        (drop (call $inv (i32.const 1) (i32.const 9) (i32.const 0) (i32.const 1) (i32.const 8)))))"#;
    let o = outcome(wat, 0, 0, stdio());
    assert!(!o.sites.is_empty(), "{o:?}");
    assert!(
        o.sites
            .iter()
            .all(|s| !matches!(s.verdict, Verdict::Proven)),
        "{o:?}"
    );
    assert!(
        o.sites.iter().any(|s| matches!(&s.verdict,
            Verdict::Unknown { reasons } if reasons.iter().any(|r| r.what.contains("invoke_")))),
        "{o:?}"
    );
}

/// A query the solver cannot finish in time is unknown with the reason `solver timeout`,
/// never proven. The path condition asks for the factors of a 62-bit semiprime (both primes
/// just below 2^31), far beyond a 1 ms budget; a 1 ms budget on a trivial query (a constant
/// descriptor) still proves it, so the site's unknown comes from the timeout alone.
#[cfg(feature = "z3")]
#[test]
fn a_query_timeout_is_unknown_never_proven() {
    let n: u64 = 2_147_483_647 * 2_147_483_629;
    let wat = format!(
        r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory 1)
      (func $run (export "run") (param $a i64) (param $b i64)
        (if (i32.and
              (i64.eq (i64.mul (local.get $a) (local.get $b)) (i64.const {n}))
              (i32.and
                (i32.and (i64.gt_u (local.get $a) (i64.const 1))
                         (i64.lt_u (local.get $a) (i64.const 0x80000000)))
                (i32.and (i64.gt_u (local.get $b) (i64.const 1))
                         (i64.lt_u (local.get $b) (i64.const 0x80000000)))))
          (then (drop (call $w (i32.const 5) (i32.const 0) (i32.const 1) (i32.const 8)))))))"#
    );
    let wasm = wat::parse_str(&wat).unwrap();
    let analysis = wasmgate_analyzer::analyze(&wasm).unwrap();
    let mut c = Checker::new(&wasm, &analysis).unwrap();
    let o = c.check(&Query {
        import: 0,
        arg: 0,
        allowed: stdio(),
        timeout_ms: 1,
    });
    assert_eq!(o.sites.len(), 1, "{o:?}");
    let Verdict::Unknown { reasons } = &o.sites[0].verdict else {
        panic!("a timed-out query must be unknown: {o:?}")
    };
    let what: Vec<&str> = reasons.iter().map(|r| r.what.as_str()).collect();
    assert_eq!(what, ["solver timeout"], "{reasons:?}");
    assert_eq!(reasons[0].function, "run");
}

/// Drift guard: an operator the evaluator does not model gives an opaque value, so the
/// argument is unknown ("instruction not modelled", at that instruction), never a folded
/// constant. Each operator computes 2 from constants, which `one_of = [1, 2]` would accept
/// were it evaluated; the modelled `i32.add` on the same shape is proven, so the shape can
/// prove. Modelling one of these operators must update this list on purpose.
#[cfg(feature = "z3")]
#[test]
fn an_operator_the_evaluator_does_not_model_stays_unknown() {
    let module = |body: &str| {
        format!(
            r#"(module
      (import "wasi_snapshot_preview1" "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
      (memory 1)
      (func $run (export "run")
        (drop (call $w {body} (i32.const 0) (i32.const 1) (i32.const 8)))))"#
        )
    };
    let o = outcome(
        &module("(i32.add (i32.const 1) (i32.const 1))"),
        0,
        0,
        stdio(),
    );
    assert_eq!(verdicts(&o), [("run".to_string(), "proven")]);
    for body in [
        "(i32.div_u (i32.const 4) (i32.const 2))",
        "(i32.div_s (i32.const 4) (i32.const 2))",
        "(i32.rem_u (i32.const 5) (i32.const 3))",
        "(i32.rem_s (i32.const 5) (i32.const 3))",
        "(i32.popcnt (i32.const 3))",
        "(i32.ctz (i32.const 4))",
        "(i32.add (i32.clz (i32.const 0x40000000)) (i32.const 1))",
        "(i32.wrap_i64 (i64.div_u (i64.const 4) (i64.const 2)))",
        "(i32.wrap_i64 (i64.popcnt (i64.const 3)))",
        "(i32.trunc_f32_u (f32.const 2))",
        "(i32.reinterpret_f32 (f32.reinterpret_i32 (i32.const 2)))",
    ] {
        let o = outcome(&module(body), 0, 0, stdio());
        assert_eq!(o.sites.len(), 1, "{body}: {o:?}");
        let Verdict::Unknown { reasons } = &o.sites[0].verdict else {
            panic!("{body}: an unmodelled operator must stay unknown: {o:?}")
        };
        assert!(
            reasons
                .iter()
                .all(|r| r.what == "instruction not modelled" && r.offset.is_some()),
            "{body}: {reasons:?}"
        );
    }
}
