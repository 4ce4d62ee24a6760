//! What the evaluator needs from the bytes of a core module that `Analysis` does not keep:
//! function types, global initialisers and the function bodies with their validators
//! (the validator gives every operator's stack effect, so no operator is mis-modelled).

use wasmparser::{
    ConstExpr, FuncToValidate, FuncType, FunctionBody, Operator, Parser, Payload, TypeRef,
    ValidPayload, Validator, ValidatorResources, WasmFeatures,
};

use crate::Error;
use crate::expr::Width;

/// A global's value when it is a constant the evaluator may fold.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GlobalValue {
    /// Immutable, defined with an integer constant initialiser.
    Const(u64, Width),
    /// Mutable, imported or initialised by something else.
    Opaque(Width),
}

pub(crate) struct Body<'a> {
    pub(crate) body: FunctionBody<'a>,
    pub(crate) validator: Option<FuncToValidate<ValidatorResources>>,
}

pub(crate) struct Module<'a> {
    /// Function types by type index (`None` for non-function types).
    pub(crate) types: Vec<Option<FuncType>>,
    /// Type index of every function, imports first.
    pub(crate) func_types: Vec<u32>,
    pub(crate) num_imported: u32,
    pub(crate) globals: Vec<GlobalValue>,
    /// Defined functions' bodies, by defined index.
    pub(crate) bodies: Vec<Body<'a>>,
}

impl std::fmt::Debug for Module<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Module")
            .field("functions", &self.func_types.len())
            .finish_non_exhaustive()
    }
}

impl<'a> Module<'a> {
    pub(crate) fn parse(bytes: &'a [u8]) -> Result<Module<'a>, Error> {
        let mut m = Module {
            types: Vec::new(),
            func_types: Vec::new(),
            num_imported: 0,
            globals: Vec::new(),
            bodies: Vec::new(),
        };
        let mut validator = Validator::new_with_features(WasmFeatures::all());
        for payload in Parser::new(0).parse_all(bytes) {
            let payload = payload?;
            let valid = validator.payload(&payload)?;
            match payload {
                Payload::Version {
                    encoding: wasmparser::Encoding::Component,
                    ..
                } => return Err(Error::Component),
                Payload::TypeSection(r) => {
                    for group in r {
                        for sub in group?.into_types() {
                            m.types.push(match sub.composite_type.inner {
                                wasmparser::CompositeInnerType::Func(f) => Some(f),
                                _ => None,
                            });
                        }
                    }
                }
                Payload::ImportSection(r) => {
                    for imp in r.into_imports() {
                        match imp?.ty {
                            TypeRef::Func(t) | TypeRef::FuncExact(t) => {
                                m.func_types.push(t);
                                m.num_imported += 1;
                            }
                            TypeRef::Global(g) => m
                                .globals
                                .push(GlobalValue::Opaque(Width::of(Some(g.content_type)))),
                            _ => {}
                        }
                    }
                }
                Payload::FunctionSection(r) => {
                    for t in r {
                        m.func_types.push(t?);
                    }
                }
                Payload::GlobalSection(r) => {
                    for g in r {
                        let g = g?;
                        let w = Width::of(Some(g.ty.content_type));
                        m.globals
                            .push(match (g.ty.mutable, constant(&g.init_expr)) {
                                (false, Some(v)) => GlobalValue::Const(v & w.mask(), w),
                                _ => GlobalValue::Opaque(w),
                            });
                    }
                }
                Payload::CodeSectionEntry(body) => {
                    let validator = match valid {
                        ValidPayload::Func(f, _) => Some(f),
                        _ => None,
                    };
                    m.bodies.push(Body { body, validator });
                }
                _ => {}
            }
        }
        Ok(m)
    }

    pub(crate) fn func_type(&self, func: u32) -> Option<&FuncType> {
        let t = *self.func_types.get(func as usize)?;
        self.types.get(t as usize)?.as_ref()
    }

    pub(crate) fn type_at(&self, t: u32) -> Option<&FuncType> {
        self.types.get(t as usize)?.as_ref()
    }
}

/// The value of a constant expression that is a single integer constant.
fn constant(e: &ConstExpr<'_>) -> Option<u64> {
    let mut r = e.get_operators_reader();
    let v = match r.read().ok()? {
        Operator::I32Const { value } => value as u32 as u64,
        Operator::I64Const { value } => value as u64,
        _ => return None,
    };
    matches!(r.read().ok()?, Operator::End).then_some(v)
}
