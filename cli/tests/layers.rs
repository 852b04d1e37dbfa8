//! The layers `lib.rs` describes hold: no module imports a module that imports it back, however
//! many hops away. Checked on msctl's sources, and on kit's and the gateway's.
//!
//! A module is a file under `src/` (`a/b.rs` is `a/b`; a directory's `mod.rs` is the directory,
//! `a/mod.rs` is `a`). A module imports another when its code names it: `use crate::a::b…` (groups
//! included), a `crate::a::b::item` path anywhere in its code, `super::sibling…`. Comments and
//! string literals are not code. A submodule using its own parent (or any ancestor) is no edge:
//! that is what a parent is for. A parent reaches its submodules: `crate::stack::Stack` is what
//! `stack/mod.rs` re-exports from its files, so a module that `stack/resolve.rs` imports must not
//! import `crate::stack`.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

#[test]
fn msctls_modules_import_no_cycle() {
    assert_no_cycles("cli/src", &crate_dir("."));
}

#[test]
fn kits_modules_import_no_cycle() {
    assert_no_cycles("crates/kit/src", &crate_dir("../crates/kit"));
}

#[test]
fn the_gateways_modules_import_no_cycle() {
    assert_no_cycles("services/gateway/src", &crate_dir("../services/gateway"));
}

fn crate_dir(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(relative)
        .join("src")
}

fn assert_no_cycles(name: &str, src: &Path) {
    let sources = read_sources(src);
    assert!(!sources.is_empty(), "no sources under {}", src.display());
    let cycles = cycles(&imports(&sources));
    assert!(
        cycles.is_empty(),
        "{} import cycle{} in {name} (a module must not import one that imports it back; \
         cli/src/lib.rs describes the layers):\n{}",
        cycles.len(),
        if cycles.len() == 1 { "" } else { "s" },
        cycles.join("\n")
    );
}

/// Module name → (its file under `src`, its text), for every `.rs` file but the crate roots.
type Sources = BTreeMap<String, (String, String)>;

fn read_sources(src: &Path) -> Sources {
    let mut out = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable source directory") {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let rel = path.strip_prefix(src).expect("under src");
            let file = rel.to_string_lossy().replace('\\', "/");
            let rel = file.trim_end_matches(".rs");
            let module = rel.strip_suffix("/mod").unwrap_or(rel);
            if matches!(module, "lib" | "main") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("readable source");
            out.insert(module.to_owned(), (file.clone(), text));
        }
    }
    out
}

/// Who imports whom: module → (imported module → where, as `file:line: code`).
type Imports = BTreeMap<String, BTreeMap<String, String>>;

fn imports(sources: &Sources) -> Imports {
    let modules: BTreeSet<&str> = sources.keys().map(String::as_str).collect();
    let mut graph = Imports::new();
    for (module, (file, text)) in sources {
        let edges = graph.entry(module.clone()).or_default();
        // A parent reaches its submodules (it declares them, and re-exports from them).
        for child in modules.iter().filter(|m| parent(m) == Some(module)) {
            edges.insert(
                child.to_string(),
                format!(
                    "{file} declares `mod {}`",
                    child.rsplit('/').next().unwrap_or(child)
                ),
            );
        }
        let lines: Vec<&str> = text.lines().collect();
        for (path, line) in paths(module, text) {
            let Some(target) = resolve(&modules, &path) else {
                continue;
            };
            if &target == module || is_ancestor(&target, module) {
                continue;
            }
            edges.entry(target).or_insert_with(|| {
                let code = lines.get(line - 1).map_or("", |l| l.trim());
                format!("{file}:{line}: {code}")
            });
        }
    }
    graph
}

fn parent(module: &str) -> Option<&str> {
    module.rsplit_once('/').map(|(p, _)| p)
}

fn is_ancestor(ancestor: &str, of: &str) -> bool {
    of.strip_prefix(ancestor)
        .is_some_and(|rest| rest.starts_with('/'))
}

/// The module a path from the crate root lands in: its longest prefix that is a module.
fn resolve(modules: &BTreeSet<&str>, segments: &[String]) -> Option<String> {
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("/"))
        .find(|m| modules.contains(m.as_str()))
}

/// Every path the code of `module` names from the crate root (`crate::`, `super::`, `self::`),
/// resolved to segments from the root, with its line.
fn paths(module: &str, text: &str) -> Vec<(Vec<String>, usize)> {
    let toks = tokens(text);
    let mut out = Vec::new();
    // Inline modules (`mod tests { … }`) open at a brace depth; `super` there is the file.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < toks.len() {
        let (tok, line) = &toks[i];
        match tok {
            Tok::Open => depth += 1,
            Tok::Close => {
                depth -= 1;
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident(word) if word == "mod" => {
                if let (Some((Tok::Ident(name), _)), Some((Tok::Open, _))) =
                    (toks.get(i + 1), toks.get(i + 2))
                {
                    inline.push((name.clone(), depth));
                }
            }
            Tok::Ident(word)
                if matches!(word.as_str(), "crate" | "super" | "self")
                    && matches!(toks.get(i + 1), Some((Tok::Colons, _)))
                    && !matches!(i.checked_sub(1).map(|p| &toks[p].0), Some(Tok::Colons)) =>
            {
                let mut base: Vec<String> = if word == "crate" {
                    Vec::new()
                } else {
                    module
                        .split('/')
                        .map(str::to_owned)
                        .chain(inline.iter().map(|(n, _)| n.clone()))
                        .collect()
                };
                let mut j = i;
                if word != "crate" {
                    // `self::`, or one `super::` per level up.
                    while let (Some((Tok::Ident(w), _)), Some((Tok::Colons, _))) =
                        (toks.get(j), toks.get(j + 1))
                    {
                        match w.as_str() {
                            "super" => {
                                base.pop();
                            }
                            "self" if j == i => {}
                            _ => break,
                        }
                        j += 2;
                    }
                } else {
                    j += 2;
                }
                let mut found = Vec::new();
                i = tree(&toks, j, base, &mut found);
                out.extend(found.into_iter().map(|p| (p, *line)));
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Reads a path's remaining segments from `i` (after a `::`): `a::b`, `a::{b, c::d}`, `*`.
/// Returns where it stopped.
fn tree(
    toks: &[(Tok, usize)],
    mut i: usize,
    mut prefix: Vec<String>,
    out: &mut Vec<Vec<String>>,
) -> usize {
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(seg)) => {
                if seg != "self" {
                    prefix.push(seg.clone());
                }
                i += 1;
                if matches!(toks.get(i), Some((Tok::Colons, _))) {
                    i += 1;
                    continue;
                }
                out.push(prefix);
                return i;
            }
            Some(Tok::Open) => {
                i += 1;
                loop {
                    i = tree(toks, i, prefix.clone(), out);
                    // Past `as name`, `*` and the like, to the next member or the end.
                    let mut nested = 0;
                    while let Some((t, _)) = toks.get(i) {
                        match t {
                            Tok::Open => nested += 1,
                            Tok::Close if nested == 0 => break,
                            Tok::Close => nested -= 1,
                            Tok::Comma if nested == 0 => break,
                            _ => {}
                        }
                        i += 1;
                    }
                    match toks.get(i).map(|t| &t.0) {
                        Some(Tok::Comma) => i += 1,
                        _ => return i + 1,
                    }
                    if matches!(toks.get(i), Some((Tok::Close, _))) {
                        return i + 1;
                    }
                }
            }
            _ => {
                out.push(prefix);
                return i;
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Colons,
    Open,
    Close,
    Comma,
    Other,
}

/// The code's tokens with their lines, without comments, strings and character literals.
fn tokens(text: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && at(i + 1) == '*' {
            let mut nested = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    nested += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    nested -= 1;
                    i += 2;
                    if nested == 0 {
                        break;
                    }
                } else {
                    line += usize::from(c[i] == '\n');
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_start(&c, i) {
            // r"…", r#"…"#, br"…": to the quote followed by as many #.
            i += hashes.1;
            let closing: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes.0))
                .collect();
            let closing: Vec<char> = closing.chars().collect();
            while i < c.len() && !c[i..].starts_with(&closing) {
                line += usize::from(c[i] == '\n');
                i += 1;
            }
            i += closing.len();
        } else if ch == '"' || (ch == 'b' && at(i + 1) == '"') {
            i += if ch == 'b' { 2 } else { 1 };
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    i += 1;
                }
                line += usize::from(at(i) == '\n');
                i += 1;
            }
            i += 1;
        } else if ch == '\'' || (ch == 'b' && at(i + 1) == '\'') {
            let start = if ch == 'b' { i + 1 } else { i };
            if at(start + 1) == '\\' {
                // '\n', '\'', '\u{…}'
                i = start + 3;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if at(start + 2) == '\'' {
                i = start + 3;
            } else {
                // A lifetime or a label.
                i = start + 1;
            }
        } else if ch.is_alphanumeric() || ch == '_' {
            let begin = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            let word: String = c[begin..i].iter().collect();
            out.push((Tok::Ident(word), line));
        } else {
            let tok = match ch {
                ':' if at(i + 1) == ':' => {
                    i += 1;
                    Tok::Colons
                }
                '{' => Tok::Open,
                '}' => Tok::Close,
                ',' => Tok::Comma,
                _ => Tok::Other,
            };
            out.push((tok, line));
            i += 1;
        }
    }
    out
}

/// At a raw string (`r"`, `r#"`, `br"`…): how many `#` close it, and the length of its opening.
fn raw_string_start(c: &[char], i: usize) -> Option<(usize, usize)> {
    // Not the end of an identifier such as `for`.
    if i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_') {
        return None;
    }
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) != Some(&'r') {
        return None;
    }
    j += 1;
    let hashes = c[j..].iter().take_while(|&&ch| ch == '#').count();
    (c.get(j + hashes) == Some(&'"')).then_some((hashes, j + hashes + 1 - i))
}

/// Every cycle, once: for each import inside a tangle of modules that reach each other, the
/// shortest way back, told with the lines that make each hop.
fn cycles(graph: &Imports) -> Vec<String> {
    let reach = |from: &str, to: &str| -> Option<Vec<String>> {
        // Shortest path from `from` to `to`.
        let mut prev: BTreeMap<&str, &str> = BTreeMap::new();
        let mut queue = VecDeque::from([from]);
        let mut seen = BTreeSet::from([from]);
        while let Some(m) = queue.pop_front() {
            if m == to {
                let mut path = vec![to.to_owned()];
                let mut at = to;
                while at != from {
                    at = prev[at];
                    path.push(at.to_owned());
                }
                path.reverse();
                return Some(path);
            }
            for next in graph.get(m).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(next) {
                    prev.insert(next, m);
                    queue.push_back(next);
                }
            }
        }
        None
    };
    let mut found: BTreeSet<Vec<String>> = BTreeSet::new();
    for (from, edges) in graph {
        for to in edges.keys() {
            let Some(back) = reach(to, from) else {
                continue;
            };
            // from → to → … → from, turned to start at its smallest module.
            let mut cycle: Vec<String> = std::iter::once(from.clone()).chain(back).collect();
            cycle.pop();
            let start = (0..cycle.len())
                .min_by_key(|&k| &cycle[k])
                .expect("not empty");
            cycle.rotate_left(start);
            found.insert(cycle);
        }
    }
    found
        .into_iter()
        .map(|cycle| {
            let mut text = cycle.join(" → ");
            text.push_str(&format!(" → {}", cycle[0]));
            for (k, m) in cycle.iter().enumerate() {
                let next = &cycle[(k + 1) % cycle.len()];
                text.push_str(&format!("\n    {}", graph[m][next]));
            }
            format!("  {text}")
        })
        .collect()
}

/// The checker itself, on sources made up for it.
#[test]
fn the_checker_finds_cycles_through_uses_paths_and_siblings_and_nothing_else() {
    let sources: Sources = [
        // a ↔ b through a group and a path in code.
        ("a", "use crate::{x, b::Thing as T};\nfn f() {}"),
        ("b", "fn g() { crate::a::f(); }"),
        // c/one ↔ c/two as siblings; c/one using its parent c is no edge.
        ("c", "mod one; mod two; pub fn here() {}"),
        ("c/one", "use super::two::Y;\nuse super::here;\nuse crate::c::here as h;"),
        ("c/two", "pub struct Y;\nfn k() { super::one::z() }"),
        // Not code: comments, strings, a test module's `super` (its own file).
        ("x", "// use crate::a;\n/* crate::b::x */ const S: &str = \"crate::a::f\";\nconst R: &str = r#\"crate::b\"#;\nfn l<'a>(c: char) { let _ = 'a'; }\n#[cfg(test)]\nmod tests { use super::*; }"),
        // A parent reaches its children: d/inner → e → d is a cycle.
        ("d", "mod inner;"),
        ("d/inner", "use crate::e::E;"),
        ("e", "pub struct E; use crate::d;"),
    ]
    .into_iter()
    .map(|(m, s)| (m.to_owned(), (format!("{m}.rs"), s.to_owned())))
    .collect();
    let graph = imports(&sources);
    let edges = |m: &str| graph[m].keys().cloned().collect::<Vec<_>>();
    assert_eq!(edges("a"), ["b", "x"]);
    assert_eq!(edges("c"), ["c/one", "c/two"]);
    assert_eq!(edges("c/one"), ["c/two"]);
    assert!(edges("x").is_empty(), "{:?}", edges("x"));
    let cycles = cycles(&graph);
    let heads: Vec<&str> = cycles
        .iter()
        .map(|c| c.lines().next().unwrap().trim())
        .collect();
    assert_eq!(
        heads,
        ["a → b → a", "c/one → c/two → c/one", "d → d/inner → e → d"],
        "{cycles:#?}"
    );
    assert!(
        cycles[0].contains("a.rs:1: use crate::{x, b::Thing as T};"),
        "{}",
        cycles[0]
    );
}
