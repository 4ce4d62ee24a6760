//! Pattern languages as automata, so `policy diff` and `policy lint` decide containment and
//! overlap of patterns exactly instead of comparing them as text.
//!
//! Every pattern is a small NFA (one state per position, `*` loops on any character). The
//! product of all the patterns of a question is explored breadth first over an alphabet of
//! the characters they mention plus one character standing for every other; each reachable
//! combination of matching patterns (a *region*) comes back with its shortest member as a
//! witness. Two names in one region are matched by exactly the same patterns, so a question
//! that depends only on which patterns match is decided by the witness alone.
//!
//! Import ids are (module, name) pairs, and a module may carry a version suffix: a pattern
//! whose module has no `@` matches the module with its version stripped
//! (`strip_version`), so the product reads a module as its base, then optionally a version
//! marker and the version, then a separator and the name.

use std::collections::HashMap;

use crate::pattern::{self, Tok};

mod product;

pub(crate) use product::regions;
#[cfg(test)]
use product::regions_within;

/// The product explores at most this many states; beyond it the question is undecided.
pub const MAX_STATES: usize = 400_000;

/// A pattern as a language.
#[derive(Debug, Clone)]
pub(crate) enum Lang {
    /// Over plain strings (capabilities, export names, features, waiver targets).
    Plain(Vec<Tok>),
    /// Over import ids. `versioned`: the module pattern holds `@`, so it is matched against
    /// the module as written instead of its versionless base.
    Import {
        module: Vec<Tok>,
        name: Vec<Tok>,
        versioned: bool,
    },
    /// Many literal import ids matched against the versionless module (the capability
    /// table's exact entries), as one trie: a region says which one matches, if any.
    Literals(Vec<(String, String)>),
}

impl Lang {
    /// A policy pattern over plain strings.
    pub fn plain(pattern: &str) -> Lang {
        Lang::Plain(pattern::tokens(pattern))
    }

    /// A glob without escapes (the sandbox's `env`, `network`).
    pub fn raw(glob: &str) -> Lang {
        Lang::Plain(pattern::raw_tokens(glob))
    }

    /// A policy import pattern `<module>#<name>` (`None`: no `#`, it matches nothing).
    pub fn import(pattern: &str) -> Option<Lang> {
        let (m, n) = pattern::split_import(pattern)?;
        Some(Lang::Import {
            module: pattern::tokens(m),
            name: pattern::tokens(n),
            versioned: m.contains('@'),
        })
    }

    /// A capability table entry (`*` globs, matched against the versionless module).
    pub fn table(module: &str, name: &str) -> Lang {
        Lang::Import {
            module: pattern::raw_tokens(module),
            name: pattern::raw_tokens(name),
            versioned: false,
        }
    }

    fn chars(&self) -> impl Iterator<Item = char> + '_ {
        let toks: Box<dyn Iterator<Item = char>> = match self {
            Lang::Plain(t) => Box::new(t.iter().filter_map(tok_char)),
            Lang::Import { module, name, .. } => {
                Box::new(module.iter().chain(name).filter_map(tok_char))
            }
            Lang::Literals(l) => Box::new(l.iter().flat_map(|(m, n)| m.chars().chain(n.chars()))),
        };
        toks
    }
}

fn tok_char(t: &Tok) -> Option<char> {
    match t {
        Tok::Char(c) => Some(*c),
        Tok::Star => None,
    }
}

/// A member of a region.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Text {
    /// A plain string.
    Plain(String),
    /// An import: module as written (version included) and name.
    Import(String, String),
}

impl Text {
    /// The import id `<module>#<name>`, or the plain string.
    pub fn id(&self) -> String {
        match self {
            Text::Plain(s) => s.clone(),
            Text::Import(m, n) => format!("{m}#{n}"),
        }
    }
}

/// One combination of matching patterns that some string has.
#[derive(Debug, Clone)]
pub(crate) struct Region {
    /// Indices (into the patterns given) of the patterns that match, ascending.
    pub matched: Vec<usize>,
    /// For a [`Lang::Literals`] among the patterns: which of its literals matches.
    #[allow(dead_code)] // part of the region's identity; read by the tests
    pub literal: Option<u32>,
    /// The shortest string with exactly this combination.
    pub witness: Text,
}

impl Region {
    /// Whether pattern `i` matches the region.
    pub fn has(&self, i: usize) -> bool {
        self.matched.binary_search(&i).is_ok()
    }
}

/// The product grew past [`MAX_STATES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exhausted;

/// A compiled pattern: each unit is a symbol or `None` for `*`.
struct Comp {
    module: Vec<Option<u32>>,
    name: Vec<Option<u32>>,
    import: bool,
    versioned: bool,
    trie: Option<Trie>,
}

/// Literal import ids as a trie over symbols (module, separator, name). A state is a node,
/// or a node with [`REST`] set: inside a module's version, waiting for the separator.
#[derive(Default)]
struct Trie {
    next: Vec<HashMap<u32, u32>>,
    accept: Vec<Option<u32>>,
}

const REST: u32 = 1 << 31;

impl Trie {
    fn build(a: &Alphabet, lits: &[(String, String)]) -> Trie {
        let mut t = Trie {
            next: vec![HashMap::new()],
            accept: vec![None],
        };
        for (i, (m, n)) in lits.iter().enumerate() {
            let syms = m
                .chars()
                .map(|c| a.sym(c))
                .chain([a.sep()])
                .chain(n.chars().map(|c| a.sym(c)));
            let mut at = 0u32;
            for s in syms {
                at = match t.next[at as usize].get(&s) {
                    Some(&x) => x,
                    None => {
                        let x = t.next.len() as u32;
                        t.next.push(HashMap::new());
                        t.accept.push(None);
                        t.next[at as usize].insert(s, x);
                        x
                    }
                };
            }
            t.accept[at as usize].get_or_insert(i as u32);
        }
        t
    }

    fn step(&self, a: &Alphabet, st: u32, s: u32) -> Option<u32> {
        if st & REST != 0 {
            let node = st & !REST;
            return if a.is_char(s) {
                Some(st)
            } else if s == a.sep() {
                self.next[node as usize].get(&s).copied()
            } else {
                None
            };
        }
        // The version marker: the base so far must be a whole module (a separator follows).
        if s == a.vsep() {
            return self.next[st as usize]
                .contains_key(&a.sep())
                .then_some(st | REST);
        }
        self.next[st as usize].get(&s).copied()
    }
}

/// Symbols: `0..n` the alphabet's characters, `n` every other character, then (imports
/// only) the version marker and the module/name separator.
struct Alphabet {
    chars: Vec<char>,
    other: char,
    at: u32,
}

impl Alphabet {
    fn other(&self) -> u32 {
        self.chars.len() as u32
    }
    fn vsep(&self) -> u32 {
        self.chars.len() as u32 + 1
    }
    fn sep(&self) -> u32 {
        self.chars.len() as u32 + 2
    }
    fn is_char(&self, s: u32) -> bool {
        s <= self.other()
    }
    fn is_digit(&self, s: u32) -> bool {
        (s as usize) < self.chars.len() && self.chars[s as usize].is_ascii_digit()
    }
    fn sym(&self, c: char) -> u32 {
        self.chars
            .binary_search(&c)
            .map_or(self.other(), |i| i as u32)
    }
    fn char_of(&self, s: u32) -> char {
        self.chars.get(s as usize).copied().unwrap_or(self.other)
    }
}

impl Comp {
    /// The characters this component tells apart from every other in `set`: those its
    /// next literal units (or trie edges) name. Every other character steps it alike.
    fn mentions(&self, set: &[u32], out: &mut Vec<u32>) {
        if let Some(t) = &self.trie {
            for &st in set {
                if st & REST == 0 {
                    out.extend(t.next[st as usize].keys().copied());
                }
            }
            return;
        }
        for &p in set {
            if let Some((toks, base)) = self.part(p)
                && let Some(Some(c)) = toks.get((p - base) as usize)
            {
                out.push(*c);
            }
        }
    }

    /// The literal a state accepts (tries only).
    fn literal(&self, set: &[u32]) -> Option<u32> {
        let t = self.trie.as_ref()?;
        set.iter()
            .find_map(|&st| (st & REST == 0).then(|| t.accept[st as usize]).flatten())
    }

    fn accept(&self) -> u32 {
        if self.import {
            (self.module.len() + 2 + self.name.len()) as u32
        } else {
            self.module.len() as u32
        }
    }

    /// Adds the positions after each `*` (a star may match the empty run).
    fn close(&self, set: &mut Vec<u32>) {
        if self.trie.is_some() {
            return;
        }
        let mut i = 0;
        while i < set.len() {
            let p = set[i];
            if let Some(next) = self.after_star(p)
                && !set.contains(&next)
            {
                set.push(next);
            }
            i += 1;
        }
        set.sort_unstable();
        set.dedup();
    }

    fn after_star(&self, p: u32) -> Option<u32> {
        let (toks, base) = self.part(p)?;
        let i = (p - base) as usize;
        (i < toks.len() && toks[i].is_none()).then_some(p + 1)
    }

    /// The unit list a position belongs to, and its first position.
    fn part(&self, p: u32) -> Option<(&[Option<u32>], u32)> {
        let m = self.module.len() as u32;
        if p <= m {
            Some((&self.module, 0))
        } else if self.import && p >= m + 2 {
            Some((&self.name, m + 2))
        } else {
            None
        }
    }

    fn step(&self, a: &Alphabet, set: &[u32], s: u32, out: &mut Vec<u32>) {
        out.clear();
        if let Some(t) = &self.trie {
            out.extend(set.iter().filter_map(|&st| t.step(a, st, s)));
            return;
        }
        let m = self.module.len() as u32;
        let rest = m + 1;
        let name0 = m + 2;
        for &p in set {
            if self.import && p == rest {
                if a.is_char(s) {
                    out.push(rest);
                } else if s == a.sep() {
                    out.push(name0);
                }
                continue;
            }
            let in_module = p <= m;
            let (toks, base) = match self.part(p) {
                Some(x) => x,
                None => continue,
            };
            let i = (p - base) as usize;
            if i < toks.len() {
                // The version marker stands for `@` when the pattern sees the whole module.
                let vs = in_module && self.versioned && s == a.vsep();
                match toks[i] {
                    None if a.is_char(s) || vs => out.push(p),
                    Some(c) if c == s || (vs && c == a.at) => out.push(p + 1),
                    _ => {}
                }
            } else if self.import && in_module {
                if s == a.sep() {
                    out.push(name0);
                } else if s == a.vsep() && !self.versioned {
                    out.push(rest);
                }
            }
        }
        self.close(out);
    }
}

#[cfg(test)]
mod tests;
