//! The product of a question's patterns, explored breadth first into regions.
//!
//! Kept apart from the automata of single patterns ([`super`]): this is the one loop whose
//! cost grows with the question (bounded by [`MAX_STATES`](super::MAX_STATES)), and the
//! import-id shape it tracks alongside is specific to it.

use super::*;

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
