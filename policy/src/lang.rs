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

// States of the import-id shape: a module base, an optional version, then the name. A base
// without a version must not look versioned itself (its last `@` not followed by a digit),
// and a version starts with a digit and holds no `@`: exactly `strip_version`'s reading.
const M_PLAIN: u8 = 0;
const M_AT: u8 = 1;
const M_VERSIONED: u8 = 2;
const V_START: u8 = 3;
const V_REST: u8 = 4;
const NAME: u8 = 5;
const DEAD: u8 = 255;

fn shape_step(a: &Alphabet, st: u8, s: u32) -> u8 {
    let at = s == a.at;
    match st {
        M_PLAIN | M_AT | M_VERSIONED => {
            if s == a.vsep() {
                V_START
            } else if s == a.sep() {
                if st == M_VERSIONED { DEAD } else { NAME }
            } else if at {
                M_AT
            } else if st == M_AT && a.is_digit(s) || st == M_VERSIONED {
                M_VERSIONED
            } else {
                M_PLAIN
            }
        }
        V_START if a.is_digit(s) => V_REST,
        V_REST if a.is_char(s) && !at => V_REST,
        V_REST if s == a.sep() => NAME,
        NAME if a.is_char(s) => NAME,
        _ => DEAD,
    }
}

type Key = (u8, Vec<(u32, Box<[u32]>)>);

/// Every region of `langs` (all of one kind), with its shortest witness, in breadth-first
/// order. Strings matched by no pattern form a region too (`matched` empty).
pub(crate) fn regions(langs: &[Lang]) -> Result<Vec<Region>, Exhausted> {
    regions_within(langs, MAX_STATES)
}

pub(crate) fn regions_within(langs: &[Lang], max_states: usize) -> Result<Vec<Region>, Exhausted> {
    let import = matches!(langs.first(), Some(Lang::Import { .. } | Lang::Literals(_)));
    let mut chars: Vec<char> = langs.iter().flat_map(Lang::chars).collect();
    if import {
        chars.extend('0'..='9');
        chars.push('@');
    }
    chars.sort_unstable();
    chars.dedup();
    // The character standing for all others must be none of the mentioned ones, and for
    // imports neither a digit nor `@` (those decide the version shape).
    let other = ('a'..='z')
        .chain('A'..='Z')
        .chain(['_', '.', '-', '~'])
        .chain((0x100u32..0x2000).filter_map(char::from_u32))
        .find(|c| chars.binary_search(c).is_err())
        .unwrap_or('\u{10ffff}');
    let at = chars.binary_search(&'@').map_or(u32::MAX, |i| i as u32);
    let alpha = Alphabet { chars, other, at };
    let sym = |c: char| alpha.chars.binary_search(&c).map(|i| i as u32).ok();
    let compile = |t: &[Tok]| -> Vec<Option<u32>> {
        t.iter()
            .map(|t| match t {
                Tok::Char(c) => sym(*c),
                Tok::Star => None,
            })
            .collect()
    };
    let comps: Vec<Comp> = langs
        .iter()
        .map(|l| match l {
            Lang::Plain(t) => Comp {
                module: compile(t),
                name: Vec::new(),
                import: false,
                versioned: false,
                trie: None,
            },
            Lang::Import {
                module,
                name,
                versioned,
            } => Comp {
                module: compile(module),
                name: compile(name),
                import: true,
                versioned: *versioned,
                trie: None,
            },
            Lang::Literals(lits) => Comp {
                module: Vec::new(),
                name: Vec::new(),
                import: true,
                versioned: false,
                trie: Some(Trie::build(&alpha, lits)),
            },
        })
        .collect();

    let mut start: Vec<(u32, Box<[u32]>)> = Vec::with_capacity(comps.len());
    for (i, c) in comps.iter().enumerate() {
        let mut set = vec![0];
        c.close(&mut set);
        start.push((i as u32, set.into_boxed_slice()));
    }
    let start_shape = if import { M_PLAIN } else { NAME };
    let mut seen: HashMap<Key, u32> = HashMap::new();
    let mut states: Vec<Key> = vec![(start_shape, start)];
    let mut parent: Vec<(u32, u32)> = vec![(u32::MAX, 0)];
    seen.insert(states[0].clone(), 0);
    let mut found: HashMap<(Vec<usize>, Option<u32>), u32> = HashMap::new();
    let mut order: Vec<(Vec<usize>, Option<u32>)> = Vec::new();
    let mut scratch = Vec::new();
    let mut head = 0usize;
    while head < states.len() {
        let (shape, active) = states[head].clone();
        if shape == NAME {
            let mut literal = None;
            let matched: Vec<usize> = active
                .iter()
                .filter(|(i, set)| {
                    let c = &comps[*i as usize];
                    if c.trie.is_some() {
                        literal = literal.or(c.literal(set));
                        false
                    } else {
                        set.contains(&c.accept())
                    }
                })
                .map(|(i, _)| *i as usize)
                .collect();
            let key = (matched, literal);
            if !found.contains_key(&key) {
                found.insert(key.clone(), head as u32);
                order.push(key);
            }
        }
        // Only the symbols some active part tells apart; all others step like `other`.
        let mut syms: Vec<u32> = vec![alpha.other()];
        if import {
            syms.extend([alpha.vsep(), alpha.sep(), alpha.at]);
            if shape == M_AT || shape == V_START {
                syms.extend(('0'..='9').map(|c| alpha.sym(c)));
            }
        }
        for (i, set) in &active {
            comps[*i as usize].mentions(set, &mut syms);
        }
        syms.sort_unstable();
        syms.dedup();
        for s in syms {
            let next_shape = if import {
                shape_step(&alpha, shape, s)
            } else {
                shape
            };
            if next_shape == DEAD {
                continue;
            }
            let mut next = Vec::with_capacity(active.len());
            for (i, set) in &active {
                comps[*i as usize].step(&alpha, set, s, &mut scratch);
                if !scratch.is_empty() {
                    next.push((*i, scratch.clone().into_boxed_slice()));
                }
            }
            let key = (next_shape, next);
            if !seen.contains_key(&key) {
                if states.len() >= max_states {
                    return Err(Exhausted);
                }
                seen.insert(key.clone(), states.len() as u32);
                states.push(key);
                parent.push((head as u32, s));
            }
        }
        head += 1;
    }
    Ok(order
        .into_iter()
        .map(|key| {
            let mut syms = Vec::new();
            let mut at = found[&key];
            while parent[at as usize].0 != u32::MAX {
                syms.push(parent[at as usize].1);
                at = parent[at as usize].0;
            }
            syms.reverse();
            Region {
                witness: spell(&alpha, &syms, import),
                matched: key.0,
                literal: key.1,
            }
        })
        .collect())
}

fn spell(a: &Alphabet, syms: &[u32], import: bool) -> Text {
    if !import {
        return Text::Plain(syms.iter().map(|s| a.char_of(*s)).collect());
    }
    let (mut module, mut name, mut in_name) = (String::new(), String::new(), false);
    for &s in syms {
        if s == a.sep() {
            in_name = true;
        } else if s == a.vsep() {
            module.push('@');
        } else if in_name {
            name.push(a.char_of(s));
        } else {
            module.push(a.char_of(s));
        }
    }
    Text::Import(module, name)
}

#[cfg(test)]
mod tests;
