//! The schema 2 JSON form of an [`Analysis`] made with [`crate::Witnesses::Shared`].
//!
//! It is the derived form with one difference: entry points are written without `reaches`
//! (always empty there). A reader that ignores `schema_version` and looks for `reaches`
//! then fails instead of concluding that nothing is reached. A unit test keeps the field
//! lists here in step with the derived form.

use serde::ser::{Serialize, SerializeStruct, Serializer};

use crate::model::{Analysis, Component, EmbeddedModule, EntryPoint};

/// Serialises an [`Analysis`] in the schema 2 form (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct SharedJson<'a>(pub &'a Analysis);

/// A slice written as the sequence of its items' views (`Each(&m.entry_points, Entry)`).
struct Each<'a, T, V>(&'a [T], fn(&'a T) -> V);
struct Entry<'a>(&'a EntryPoint);
struct ComponentView<'a>(&'a Component);
struct ModuleView<'a>(&'a EmbeddedModule);

impl Serialize for SharedJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.0;
        let mut st = s.serialize_struct("Analysis", 14)?;
        st.serialize_field("schema_version", &a.schema_version)?;
        st.serialize_field("kind", &a.kind)?;
        st.serialize_field("sha256", &a.sha256)?;
        st.serialize_field("size", &a.size)?;
        st.serialize_field("capabilities_version", &a.capabilities_version)?;
        st.serialize_field("options", &a.options)?;
        st.serialize_field("imports", &a.imports)?;
        st.serialize_field("exports", &a.exports)?;
        st.serialize_field("entry_points", &Each(&a.entry_points, Entry))?;
        st.serialize_field("unreachable_imports", &a.unreachable_imports)?;
        if !a.shared_reaches.is_empty() {
            st.serialize_field("shared_reaches", &a.shared_reaches)?;
        }
        if let Some(m) = &a.module {
            st.serialize_field("module", m)?;
        }
        if let Some(c) = &a.component {
            st.serialize_field("component", &ComponentView(c))?;
        }
        st.serialize_field("warnings", &a.warnings)?;
        st.end()
    }
}

impl<T, V: Serialize> Serialize for Each<'_, T, V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.iter().map(self.1))
    }
}

impl Serialize for Entry<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let e = self.0;
        let mut st = s.serialize_struct("EntryPoint", 4)?;
        st.serialize_field("name", &e.name)?;
        st.serialize_field("kind", &e.kind)?;
        st.serialize_field("roots", &e.roots)?;
        if e.unresolved {
            st.serialize_field("unresolved", &e.unresolved)?;
        }
        st.end()
    }
}

impl Serialize for ComponentView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let c = self.0;
        let mut st = s.serialize_struct("Component", 6)?;
        if let Some(w) = &c.wit {
            st.serialize_field("wit", w)?;
        }
        st.serialize_field("modules", &Each(&c.modules, ModuleView))?;
        st.serialize_field("components", &c.components)?;
        st.serialize_field("call_graph", &c.call_graph)?;
        if !c.custom_sections.is_empty() {
            st.serialize_field("custom_sections", &c.custom_sections)?;
        }
        if !c.producers.is_empty() {
            st.serialize_field("producers", &c.producers)?;
        }
        st.end()
    }
}

impl Serialize for ModuleView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let m = self.0;
        let mut st = s.serialize_struct("EmbeddedModule", 7)?;
        st.serialize_field("path", &m.path)?;
        st.serialize_field("imports", &m.imports)?;
        st.serialize_field("exports", &m.exports)?;
        st.serialize_field("entry_points", &Each(&m.entry_points, Entry))?;
        if !m.shared_reaches.is_empty() {
            st.serialize_field("shared_reaches", &m.shared_reaches)?;
        }
        st.serialize_field("unreachable_imports", &m.unreachable_imports)?;
        st.serialize_field("module", &m.module)?;
        st.end()
    }
}
