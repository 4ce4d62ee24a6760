//! Containment of value sets, for `wasmgate policy diff`: may an argument take a value every
//! constraint of a new policy allows but some constraint of the old one denies? Answered
//! over 64-bit vectors (values are zero-extended, as `check` reads them).

use crate::Allowed;

/// The answer for one argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Containment {
    /// Every value the new constraints allow, the old ones allow too.
    Contained,
    /// This value is allowed by the new constraints and denied by an old one.
    Beyond(u64),
    /// Undecided: no solver in this build, or the solver gave up (the reason).
    Unknown(&'static str),
}

/// Whether some value satisfies every `new` constraint and breaks one of `old`.
pub fn beyond(new: &[Allowed], old: &[Allowed], timeout_ms: u64) -> Containment {
    if old.is_empty() {
        return Containment::Contained;
    }
    // Every old constraint repeated verbatim among the new ones: contained without a solver.
    if old.iter().all(|o| new.contains(o)) {
        return Containment::Contained;
    }
    solve(new, old, timeout_ms)
}

#[cfg(not(feature = "z3"))]
fn solve(_new: &[Allowed], _old: &[Allowed], _timeout_ms: u64) -> Containment {
    Containment::Unknown("this build has no solver (feature `smt`)")
}

#[cfg(feature = "z3")]
fn solve(new: &[Allowed], old: &[Allowed], timeout_ms: u64) -> Containment {
    use z3::ast::{BV, Bool};
    use z3::{Config, Context, SatResult};

    let ctx = Context::new(&Config::new());
    let v = BV::new_const(&ctx, "value", 64);
    let holds = |a: &Allowed| crate::solve::holds(&ctx, &v, a);
    let solver = crate::solve::timed_solver(&ctx, timeout_ms);
    for a in new {
        solver.assert(&holds(a));
    }
    let old_all: Vec<Bool<'_>> = old.iter().map(holds).collect();
    let refs: Vec<&Bool<'_>> = old_all.iter().collect();
    solver.assert(&Bool::and(&ctx, &refs).not());
    match solver.check() {
        SatResult::Unsat => Containment::Contained,
        SatResult::Unknown => Containment::Unknown("the solver timed out"),
        SatResult::Sat => {
            let value = solver
                .get_model()
                .and_then(|m| m.eval(&v, true))
                .and_then(|x| x.as_u64());
            match value {
                // Checked again outside the solver: a witness must really be one.
                Some(x) if new.iter().all(|a| a.allows(x)) && !old.iter().all(|a| a.allows(x)) => {
                    Containment::Beyond(x)
                }
                _ => Containment::Unknown("the solver's model did not check out"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_of(v: &[u64]) -> Allowed {
        Allowed {
            one_of: v.to_vec(),
            ..Allowed::default()
        }
    }

    #[test]
    fn narrower_is_contained_and_wider_has_a_value() {
        let old = [one_of(&[1, 2])];
        assert_eq!(
            beyond(&[one_of(&[1, 2])], &old, 2000),
            Containment::Contained
        );
        if !crate::SOLVER {
            assert!(matches!(
                beyond(&[one_of(&[1])], &old, 2000),
                Containment::Unknown(_)
            ));
            return;
        }
        assert_eq!(beyond(&[one_of(&[1])], &old, 2000), Containment::Contained);
        assert_eq!(
            beyond(&[one_of(&[1, 2, 5])], &old, 2000),
            Containment::Beyond(5)
        );
        // Written differently, the same set: min 1, max 2 against one_of [1, 2].
        let range = Allowed {
            min: Some(1),
            max: Some(2),
            ..Allowed::default()
        };
        assert_eq!(
            beyond(std::slice::from_ref(&range), &old, 2000),
            Containment::Contained
        );
        assert_eq!(beyond(&old, &[range], 2000), Containment::Contained);
        // No new constraint: any value, e.g. one outside [1, 2].
        let Containment::Beyond(x) = beyond(&[], &old, 2000) else {
            panic!("unconstrained is wider")
        };
        assert!(x != 1 && x != 2);
        // bits_clear 1 (never O_CREAT) against one_of [0, 2, 4]: contained.
        let clear = Allowed {
            bits_clear: 1,
            ..Allowed::default()
        };
        assert_eq!(
            beyond(&[one_of(&[0, 2, 4])], std::slice::from_ref(&clear), 2000),
            Containment::Contained
        );
        let Containment::Beyond(x) = beyond(&[one_of(&[0, 3])], &[clear], 2000) else {
            panic!("3 has bit 0 set")
        };
        assert_eq!(x, 3);
    }
}
