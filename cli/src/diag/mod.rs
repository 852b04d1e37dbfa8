//! Problems in the files msctl reads (the stack file, journeys), as users read them:
//! `file:line:column: message`, an optional `help:` line, every problem of a file at once.
//!
//! Every file format shares this: [`span`] keeps where each value was written, [`parse_yaml`]
//! turns YAML and shape errors into a [`Diagnostic`] (with "did you mean" for unknown keys),
//! and [`did_you_mean`] words the suggestion the same way everywhere.

pub mod span;

pub use span::{pos, Pos, Spanned, SpannedMap};

use serde::de::DeserializeOwned;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub pos: Pos,
    pub message: String,
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn new(pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            pos,
            message: message.into(),
            help: None,
        }
    }
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// Whether msctl reads `p` as YAML (by its extension).
pub fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// The YAML files directly in `dir`, sorted by name; none when it cannot be read.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| is_yaml(p))
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

/// Everything wrong with one file. Never empty.
#[derive(Debug)]
pub struct FileErrors {
    pub file: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
}

impl FileErrors {
    /// A file with one problem.
    pub fn one(file: &Path, diagnostic: Diagnostic) -> Self {
        FileErrors {
            file: file.to_path_buf(),
            diagnostics: vec![diagnostic],
        }
    }

    /// Each problem on its own, for reports that prefix every one (`error: …`).
    pub fn each(&self) -> impl Iterator<Item = FileErrors> + '_ {
        self.diagnostics
            .iter()
            .map(|d| FileErrors::one(&self.file, d.clone()))
    }
}

/// `file:line:column`, or `file` for a problem with the file as a whole (line 0).
pub fn location(file: &Path, pos: Pos) -> String {
    if pos.line == 0 {
        file.display().to_string()
    } else {
        format!("{}:{}:{}", file.display(), pos.line, pos.column)
    }
}

impl fmt::Display for FileErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{}: {}", location(&self.file, d.pos), d.message)?;
            if let Some(help) = &d.help {
                write!(f, "\n  help: {help}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for FileErrors {}

/// The closest candidate to a misspelt word, if it is close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The help for a word that names nothing: "did you mean `close`?" when a candidate is close,
/// else `otherwise` (what can be written there).
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    otherwise: impl FnOnce() -> String,
) -> String {
    match suggest(word, candidates) {
        Some(close) => format!("did you mean `{close}`?"),
        None => otherwise(),
    }
}

/// Parses YAML `text` into `T`; a syntax or shape error becomes the file's diagnostic.
pub fn parse_yaml<T: DeserializeOwned>(text: &str, file: &Path) -> Result<T, FileErrors> {
    // The snippet would repeat the line we already point at with file:line:column.
    let options = serde_saphyr::options! { with_snippet: false };
    serde_saphyr::from_str_with_options(text, options)
        .map_err(|e| FileErrors::one(file, from_yaml_error(&e)))
}

/// Parses JSON `bytes` into `T`; a syntax or shape error becomes the file's diagnostic, worded
/// `{what}: …`, with `help`.
pub fn parse_json<T: DeserializeOwned>(
    bytes: &[u8],
    file: &Path,
    what: &str,
    help: &str,
) -> Result<T, FileErrors> {
    serde_json::from_slice(bytes).map_err(|e| {
        let pos = Pos {
            line: e.line() as u64,
            column: e.column() as u64,
        };
        FileErrors::one(
            file,
            Diagnostic::new(pos, format!("{what}: {e}")).help(help),
        )
    })
}

/// Turns a YAML/serde error into a diagnostic, adding "did you mean" for unknown keys and variants.
fn from_yaml_error(err: &serde_saphyr::Error) -> Diagnostic {
    let pos = err
        .location()
        .map(|l| Pos {
            line: l.line(),
            column: l.column(),
        })
        .unwrap_or_default();
    let mut message = err.to_string();
    // The location is ours to print, in file:line:column form.
    if let Some(at) = message.rfind(" at line ") {
        message.truncate(at);
    }
    // serde's wording for numbers is terse; say what to write instead.
    if let Some(kind) = message
        .strip_prefix("invalid ")
        .filter(|k| matches!(*k, "u32" | "u16" | "u64"))
    {
        message = format!("expected a whole number, 0 or more ({kind})");
    }
    let mut diag = Diagnostic::new(pos, message.clone());
    for (prefix, what) in [("unknown field `", "key"), ("unknown variant `", "value")] {
        if let Some(rest) = message.strip_prefix(prefix) {
            let Some((word, tail)) = rest.split_once('`') else {
                continue;
            };
            let expected: Vec<&str> = tail
                .split_once("expected one of ")
                .or_else(|| tail.split_once("expected "))
                .map(|(_, list)| list.split(", ").map(|s| s.trim_matches('`')).collect())
                .unwrap_or_default();
            diag.message = format!("unknown {what} `{word}`");
            diag.help = Some(did_you_mean(word, expected.iter().copied(), || {
                format!("expected one of: {}", expected.join(", "))
            }));
        }
    }
    diag
}
