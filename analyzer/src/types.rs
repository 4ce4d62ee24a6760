//! Type matching shared by the core call graph and the component linker.
//!
//! Wasm GC subtyping between defined types is declared: `(sub $super ...)` chains, compared
//! after iso-recursive canonicalisation (wasmparser gives identical rec groups one
//! `CoreTypeId`, so equal types are equal ids). A function of type `A` can be called through
//! type `W` exactly when `A` is `W` or declares it, transitively; call-site signatures never
//! match structurally across unrelated types (a final `(func)` is not a `(sub (func))`).

use wasmparser::types::{CoreTypeId, TypesRef};
use wasmparser::{CompositeInnerType, FuncType, HeapType, StorageType, UnpackedIndex, ValType};

/// The function type `id` names, or `None` for a struct, array or continuation type.
pub(crate) fn func_of(types: TypesRef<'_>, id: CoreTypeId) -> Option<&FuncType> {
    match &types.get(id)?.composite_type.inner {
        CompositeInnerType::Func(f) => Some(f),
        _ => None,
    }
}

/// `sub` is `sup` or declares it as a (transitive) supertype.
pub(crate) fn is_subtype(types: TypesRef<'_>, sub: CoreTypeId, sup: CoreTypeId) -> bool {
    let mut cur = Some(sub);
    while let Some(id) = cur {
        if id == sup {
            return true;
        }
        cur = types.supertype_of(id);
    }
    false
}

/// Whether a function *imported* with type `declared` may be called through type `want`.
/// The host may satisfy the import with a function of any subtype of `declared` (unless the
/// import is exact), so the call can succeed when some type is below both; supertypes form a
/// tree, so that is when one of the two is below the other.
pub(crate) fn import_may_match(
    types: TypesRef<'_>,
    declared: CoreTypeId,
    want: CoreTypeId,
    exact: bool,
) -> bool {
    is_subtype(types, declared, want) || (!exact && is_subtype(types, want, declared))
}

/// The concrete type a heap type names, if any.
fn concrete(types: TypesRef<'_>, heap: HeapType) -> Option<CoreTypeId> {
    match heap {
        HeapType::Concrete(UnpackedIndex::Id(id)) | HeapType::Exact(UnpackedIndex::Id(id)) => {
            Some(id)
        }
        HeapType::Concrete(UnpackedIndex::Module(i))
        | HeapType::Exact(UnpackedIndex::Module(i)) => Some(types.core_type_at_in_module(i)),
        _ => None,
    }
}

/// Whether a value of type `ty`, once on both sides of the host boundary, is a two-way
/// channel for function references: its type graph (struct fields, array elements, function
/// parameters and results, continuation functions) reaches a mutable field that may hold a
/// function reference, which either side can write and the other read. An abstract
/// GC-hierarchy reference (`anyref`, `eqref`, `structref`, ... and `funcref`, which a cast can
/// make concrete) counts when the module defines any such field type (`has_box`).
pub(crate) fn is_two_way(
    types: TypesRef<'_>,
    ty: &ValType,
    carries: &dyn Fn(&ValType) -> bool,
    has_box: bool,
) -> bool {
    let mut seen = std::collections::HashSet::new();
    let mut stack: Vec<ValType> = vec![*ty];
    while let Some(t) = stack.pop() {
        let ValType::Ref(r) = t else { continue };
        let Some(id) = concrete(types, r.heap_type()) else {
            if has_box && carries(&t) {
                return true;
            }
            continue;
        };
        if !seen.insert(id) {
            continue;
        }
        let field = |st: &StorageType, mutable: bool, stack: &mut Vec<ValType>| {
            if let StorageType::Val(v) = st {
                if mutable && carries(v) {
                    return true;
                }
                stack.push(*v);
            }
            false
        };
        match &types[id].composite_type.inner {
            CompositeInnerType::Struct(s) => {
                for f in s.fields.iter() {
                    if field(&f.element_type, f.mutable, &mut stack) {
                        return true;
                    }
                }
            }
            CompositeInnerType::Array(a) => {
                if field(&a.0.element_type, a.0.mutable, &mut stack) {
                    return true;
                }
            }
            CompositeInnerType::Func(f) => stack.extend(f.params().iter().chain(f.results())),
            CompositeInnerType::Cont(c) => {
                let func =
                    c.0.as_core_type_id()
                        .map(|id| &types[id].composite_type.inner);
                if let Some(CompositeInnerType::Func(f)) = func {
                    stack.extend(f.params().iter().chain(f.results()));
                }
            }
        }
    }
    false
}

/// Whether the module defines a struct or array type with a mutable field that may hold a
/// function reference (a "box" either side of the boundary can write).
pub(crate) fn module_has_box(types: TypesRef<'_>, carries: &dyn Fn(&ValType) -> bool) -> bool {
    (0..types.core_type_count_in_module()).any(|i| {
        let id = types.core_type_at_in_module(i);
        let is_box = |st: &StorageType, mutable: bool| {
            mutable && matches!(st, StorageType::Val(v) if carries(v))
        };
        match &types[id].composite_type.inner {
            CompositeInnerType::Struct(s) => {
                s.fields.iter().any(|f| is_box(&f.element_type, f.mutable))
            }
            CompositeInnerType::Array(a) => is_box(&a.0.element_type, a.0.mutable),
            _ => false,
        }
    })
}
