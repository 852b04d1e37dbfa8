//! Stack file errors as users read them: `file:line:column: message`, all of them at once.

use super::spanned::Pos;
use std::fmt;
use std::path::PathBuf;

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

/// Everything wrong with one stack file. Never empty.
#[derive(Debug)]
pub struct StackErrors {
    pub file: PathBuf,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for StackErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.diagnostics.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            if d.pos.line == 0 {
                write!(f, "{}: {}", self.file.display(), d.message)?;
            } else {
                write!(
                    f,
                    "{}:{}:{}: {}",
                    self.file.display(),
                    d.pos.line,
                    d.pos.column,
                    d.message
                )?;
            }
            if let Some(help) = &d.help {
                write!(f, "\n  help: {help}")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for StackErrors {}

/// The closest candidate to a misspelt word, if it is close enough to be a plausible typo.
pub fn suggest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Turns a YAML/serde error into a diagnostic, adding "did you mean" for unknown keys and variants.
pub fn from_yaml_error(err: &serde_saphyr::Error) -> Diagnostic {
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
            diag.help = Some(match suggest(word, expected.iter().copied()) {
                Some(close) => format!("did you mean `{close}`?"),
                None => format!("expected one of: {}", expected.join(", ")),
            });
        }
    }
    diag
}
