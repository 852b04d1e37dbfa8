//! JUnit XML, the report CI systems read: every `msctl test …` command maps its outcome onto
//! suites and cases, and this renders and writes them.

use crate::error::{Error, Result};
use std::fmt::Write;
use std::path::Path;

/// One group of cases (a journey run, a contract...).
#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub file: String,
    pub duration_ms: u64,
    pub cases: Vec<Case>,
}

#[derive(Debug, Clone)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub duration_ms: u64,
    pub outcome: CaseOutcome,
}

#[derive(Debug, Clone)]
pub enum CaseOutcome {
    Passed,
    Skipped,
    /// `message` is the one line CI shows; `detail` everything that explains it.
    Failed {
        message: String,
        detail: String,
    },
}

impl Case {
    fn failed(&self) -> bool {
        matches!(self.outcome, CaseOutcome::Failed { .. })
    }
    fn skipped(&self) -> bool {
        matches!(self.outcome, CaseOutcome::Skipped)
    }
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// The XML document: `name` names the whole run (`msctl journeys`).
pub fn render(name: &str, suites: &[Suite]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let cases = || suites.iter().flat_map(|s| &s.cases);
    let _ = writeln!(
        out,
        "<testsuites name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\">",
        xml(name),
        cases().count(),
        cases().filter(|c| c.failed()).count(),
        cases().filter(|c| c.skipped()).count(),
        secs(suites.iter().map(|s| s.duration_ms).sum())
    );
    for s in suites {
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" time=\"{:.3}\" file=\"{}\">",
            xml(&s.name),
            s.cases.len(),
            s.cases.iter().filter(|c| c.failed()).count(),
            s.cases.iter().filter(|c| c.skipped()).count(),
            secs(s.duration_ms),
            xml(&s.file)
        );
        for c in &s.cases {
            let _ = write!(
                out,
                "    <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
                xml(&c.classname),
                xml(&c.name),
                secs(c.duration_ms)
            );
            match &c.outcome {
                CaseOutcome::Passed => out.push_str("/>\n"),
                CaseOutcome::Skipped => out.push_str(">\n      <skipped/>\n    </testcase>\n"),
                CaseOutcome::Failed { message, detail } => {
                    let _ = write!(
                        out,
                        ">\n      <failure message=\"{}\">{}</failure>\n    </testcase>\n",
                        xml(message),
                        xml(detail)
                    );
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Writes the report to `path`, replacing what was there.
pub fn write(path: &Path, name: &str, suites: &[Suite]) -> Result<()> {
    std::fs::write(path, render(name, suites))
        .map_err(Error::io(format!("writing {}", path.display())))
}

fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 cannot carry most control characters, even escaped.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_escapes_and_failures() {
        let suites = [Suite {
            name: "a<b".into(),
            file: "x.yaml".into(),
            duration_ms: 1500,
            cases: vec![
                Case {
                    classname: "a<b".into(),
                    name: "ok".into(),
                    duration_ms: 1000,
                    outcome: CaseOutcome::Passed,
                },
                Case {
                    classname: "a<b".into(),
                    name: "bad".into(),
                    duration_ms: 500,
                    outcome: CaseOutcome::Failed {
                        message: "\"x\"".into(),
                        detail: "line\u{1}".into(),
                    },
                },
                Case {
                    classname: "a<b".into(),
                    name: "later".into(),
                    duration_ms: 0,
                    outcome: CaseOutcome::Skipped,
                },
            ],
        }];
        let xml = render("msctl t", &suites);
        assert!(xml.contains("<testsuites name=\"msctl t\" tests=\"3\" failures=\"1\" skipped=\"1\" time=\"1.500\">"), "{xml}");
        assert!(xml.contains("<testsuite name=\"a&lt;b\" tests=\"3\" failures=\"1\" skipped=\"1\" time=\"1.500\" file=\"x.yaml\">"), "{xml}");
        assert!(
            xml.contains("<failure message=\"&quot;x&quot;\">line?</failure>"),
            "{xml}"
        );
        assert!(xml.contains("<skipped/>"), "{xml}");
    }
}
