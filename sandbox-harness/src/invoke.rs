//! Which function of a core module a run calls: `_start` for a command, or any exported
//! function of a reactor or library, with scalar arguments parsed from the command line by
//! the function's own type.

use serde_json::{Value, json};
use wasmtime::{ExternType, Instance, Module, Store, Val, ValType};

use crate::run::HarnessError;

/// What a run of a core module calls.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Entry {
    /// A WASI command: `_start`.
    #[default]
    Command,
    /// An exported function, after `_initialize` when the module exports one (the WASI
    /// reactor convention).
    Invoke { name: String, args: Vec<String> },
}

impl Entry {
    /// The export the run enters by.
    pub fn name(&self) -> &str {
        match self {
            Entry::Command => "_start",
            Entry::Invoke { name, .. } => name,
        }
    }
}

/// The exported functions the run calls, in order.
pub fn exports_called(module: &Module, entry: &Entry) -> Vec<String> {
    let mut out = Vec::new();
    if let Entry::Invoke { .. } = entry
        && matches!(module.get_export("_initialize"), Some(ExternType::Func(_)))
    {
        out.push("_initialize".to_string());
    }
    out.push(entry.name().to_string());
    out
}

/// The arguments of `entry` as values of its parameter types, or why they do not fit.
pub fn params(module: &Module, entry: &Entry) -> Result<Vec<Val>, HarnessError> {
    let Entry::Invoke { name, args } = entry else {
        return match module.get_export("_start") {
            Some(ExternType::Func(_)) => Ok(Vec::new()),
            _ => Err(HarnessError::NotCommand),
        };
    };
    let Some(ExternType::Func(ty)) = module.get_export(name) else {
        return Err(HarnessError::Invoke(format!(
            "the module exports no function named {name:?}"
        )));
    };
    let types: Vec<ValType> = ty.params().collect();
    if types.len() != args.len() {
        return Err(HarnessError::Invoke(format!(
            "{name:?} takes {} argument(s) ({}), {} given",
            types.len(),
            types
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            args.len()
        )));
    }
    types
        .iter()
        .zip(args)
        .enumerate()
        .map(|(i, (t, a))| {
            parse(t, a).ok_or_else(|| {
                HarnessError::Invoke(format!(
                    "argument {} of {name:?}: {a:?} is not an {t}",
                    i + 1
                ))
            })
        })
        .collect()
}

/// One scalar argument. Integers may be given signed or unsigned (`-1` and `4294967295`
/// are the same i32); reference and vector parameters cannot be given on a command line.
fn parse(t: &ValType, a: &str) -> Option<Val> {
    Some(match t {
        ValType::I32 => Val::I32(
            a.parse::<i32>()
                .ok()
                .or_else(|| a.parse::<u32>().ok().map(|u| u as i32))?,
        ),
        ValType::I64 => Val::I64(
            a.parse::<i64>()
                .ok()
                .or_else(|| a.parse::<u64>().ok().map(|u| u as i64))?,
        ),
        ValType::F32 => Val::F32(a.parse::<f32>().ok()?.to_bits()),
        ValType::F64 => Val::F64(a.parse::<f64>().ok()?.to_bits()),
        _ => return None,
    })
}

/// Calls what `entry` names in `instance` (after `_initialize` for an invocation).
pub async fn call<T: Send>(
    store: &mut Store<T>,
    instance: &Instance,
    entry: &Entry,
    params: &[Val],
) -> wasmtime::Result<Vec<Val>> {
    if let Entry::Invoke { .. } = entry
        && let Some(init) = instance.get_func(&mut *store, "_initialize")
    {
        init.call_async(&mut *store, &[], &mut []).await?;
    }
    let f = instance
        .get_func(&mut *store, entry.name())
        .ok_or_else(|| wasmtime::Error::msg(format!("no export {:?}", entry.name())))?;
    let mut results = vec![Val::I32(0); f.ty(&*store).results().len()];
    f.call_async(&mut *store, params, &mut results).await?;
    Ok(results)
}

/// A returned value as the report shows it (floats as numbers, NaN and infinities as text).
pub fn render(v: &Val) -> Value {
    match v {
        Val::I32(x) => json!(x),
        Val::I64(x) => json!(x),
        Val::F32(b) => float(f64::from(f32::from_bits(*b))),
        Val::F64(b) => float(f64::from_bits(*b)),
        other => json!(format!("{other:?}")),
    }
}

fn float(f: f64) -> Value {
    if f.is_finite() {
        json!(f)
    } else {
        json!(f.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_parse_by_type_and_mismatches_are_refused() {
        // `Val` has no `PartialEq`: compare what each parse gives as plain numbers.
        let i32_of = |s| parse(&ValType::I32, s).map(|v| v.unwrap_i32());
        assert_eq!(i32_of("-1"), Some(-1));
        assert_eq!(i32_of("4294967295"), Some(-1));
        assert_eq!(i32_of("4294967296"), None);
        assert_eq!(i32_of("1.5"), None);
        assert_eq!(parse(&ValType::I64, "-9").map(|v| v.unwrap_i64()), Some(-9));
        assert_eq!(
            parse(&ValType::F32, "1.5").map(|v| v.unwrap_f32()),
            Some(1.5)
        );
        assert!(parse(&ValType::F64, "x").is_none());
    }
}
