//! Loading journey files and checking them before anything is sent: YAML shape, step kinds,
//! durations, status specs, matchers, JSONPaths, and every template's syntax and names (a
//! name must be known at the step that uses it). Every problem is a `file:line:column`.

use super::matcher::{self, OPERATORS};
use super::model::{Journey, Node, Step};
use super::template::Templates;
use crate::diag::{did_you_mean, parse_yaml, pos, Diagnostic, FileErrors, Pos, Spanned};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Names every template knows, besides variables and captures.
pub const BUILTINS: &[&str] = &["run_id", "trace_id", "request_id", "env"];

#[derive(Debug)]
pub struct Loaded {
    pub file: PathBuf,
    pub journey: Journey,
}

impl Loaded {
    pub fn name(&self) -> &str {
        &self.journey.name.value
    }
    /// `file:line:column` of a position in this journey's file.
    pub fn at(&self, p: Pos) -> String {
        crate::diag::location(&self.file, p)
    }
}

/// Reads and checks one file.
pub fn load(file: &Path) -> Result<Loaded, FileErrors> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        FileErrors::one(
            file,
            Diagnostic::new(Pos::default(), format!("cannot read the journey: {e}")),
        )
    })?;
    parse(&text, file)
}

/// Parses and checks journey text; `file` names it in errors.
pub fn parse(text: &str, file: &Path) -> Result<Loaded, FileErrors> {
    let journey: Journey = parse_yaml(text, file)?;
    let diagnostics = check(&journey);
    if diagnostics.is_empty() {
        Ok(Loaded {
            file: file.to_path_buf(),
            journey,
        })
    } else {
        Err(FileErrors {
            file: file.to_path_buf(),
            diagnostics,
        })
    }
}

pub fn duration(text: &Spanned<String>) -> Result<Duration, Diagnostic> {
    humantime::parse_duration(text.value.trim()).map_err(|_| {
        Diagnostic::new(pos(text), format!("`{}` is not a duration", text.value))
            .help("write it like 500ms, 10s or 2m")
    })
}

/// A status spec: `201`, `[200, 201]`, `"2xx"`. Returns a predicate's description pieces.
pub fn status_spec(node: &Spanned<Node>) -> Result<Vec<StatusRule>, Diagnostic> {
    let one = |n: &Spanned<Node>| -> Result<StatusRule, Diagnostic> {
        match &n.value {
            Node::Int(code) if (100..600).contains(code) => Ok(StatusRule::Code(*code as u16)),
            Node::Str(s) if s.len() == 3 && s.ends_with("xx") => match s.as_bytes()[0] {
                c @ b'1'..=b'5' => Ok(StatusRule::Class(c - b'0')),
                _ => Err(Diagnostic::new(
                    pos(n),
                    format!("`{s}` is not a status class"),
                )),
            },
            _ => Err(Diagnostic::new(
                pos(n),
                "expected a status code (201), a class (\"2xx\") or a list of them",
            )),
        }
    };
    match &node.value {
        Node::Seq(items) if !items.is_empty() => items.iter().map(one).collect(),
        _ => Ok(vec![one(node)?]),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusRule {
    Code(u16),
    Class(u8),
}

impl StatusRule {
    pub fn holds(self, status: u16) -> bool {
        match self {
            StatusRule::Code(c) => c == status,
            StatusRule::Class(c) => status / 100 == c as u16,
        }
    }
}

impl std::fmt::Display for StatusRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusRule::Code(c) => write!(f, "{c}"),
            StatusRule::Class(c) => write!(f, "{c}xx"),
        }
    }
}

struct Checker<'a> {
    templates: Templates,
    known: BTreeSet<String>,
    out: &'a mut Vec<Diagnostic>,
}

impl Checker<'_> {
    fn template(&mut self, at: Pos, text: &str) {
        self.template_in(at, text, None);
    }

    /// `only`: the names allowed here when narrower than everything known.
    fn template_in(&mut self, at: Pos, text: &str, only: Option<&BTreeSet<String>>) {
        let known = only.unwrap_or(&self.known);
        match self.templates.names(text) {
            Err(e) => self
                .out
                .push(Diagnostic::new(at, format!("template error: {e}"))),
            Ok(names) => {
                for name in names.iter().filter(|n| !known.contains(*n)) {
                    let help = did_you_mean(name, known.iter().map(String::as_str), || {
                        match only {
                        Some(_) => "only the journey's variables and built-in names (run_id, trace_id, request_id, env) can be used here: the queue is bound before the first step".into(),
                        None => "define it under `variables`, or capture it in an earlier step".into(),
                    }
                    });
                    self.out.push(
                        Diagnostic::new(at, format!("`{name}` is not defined here")).help(help),
                    );
                }
            }
        }
    }

    fn spanned(&mut self, s: &Spanned<String>) {
        self.template(pos(s), &s.value);
    }

    fn node(&mut self, node: &Spanned<Node>) {
        let mut strings = Vec::new();
        Templates::strings(node, &mut strings);
        for (at, text) in strings {
            self.template(at, &text);
        }
    }

    fn matcher(&mut self, node: &Spanned<Node>) {
        for (name, at, operand) in matcher::operators(node) {
            if !OPERATORS.contains(&name.as_str()) {
                let help = did_you_mean(&name, OPERATORS.iter().copied(), || {
                    format!("operators: {}", OPERATORS.join(", "))
                });
                self.out
                    .push(Diagnostic::new(at, format!("unknown operator `{name}`")).help(help));
                continue;
            }
            self.node(&operand);
            // An operand without templates can be fully checked now (regex syntax, types).
            let mut strings = Vec::new();
            Templates::strings(&operand, &mut strings);
            if strings.is_empty() {
                let single = Spanned {
                    value: Node::Map(vec![(
                        Spanned {
                            value: name.clone(),
                            referenced: operand.referenced,
                            defined: operand.defined,
                        },
                        operand.clone(),
                    )]),
                    referenced: operand.referenced,
                    defined: operand.defined,
                };
                if let Err((at, e)) =
                    matcher::compile(&single, &self.templates, &Default::default())
                {
                    self.out.push(Diagnostic::new(at, e));
                }
            }
        }
    }

    fn json_path(&mut self, key: &str, at: Pos) {
        if let Err(e) = serde_json_path::JsonPath::parse(key) {
            self.out.push(
                Diagnostic::new(at, format!("invalid JSONPath `{key}`: {e}")).help(
                    "paths start at the document: $.id, $.items[0].product_id, $.items[*].id",
                ),
            );
        }
    }

    fn duration(&mut self, d: &Spanned<String>) {
        if let Err(e) = duration(d) {
            self.out.push(e);
        }
    }

    fn step(&mut self, step: &Step, fixed: &BTreeSet<String>) {
        let at = pos(&step.name);
        match (&step.request, &step.expect_message) {
            (Some(_), Some(m)) => self.out.push(Diagnostic::new(
                pos(m),
                "a step is either a `request` or an `expect_message`, not both",
            )),
            (None, None) => self.out.push(Diagnostic::new(
                at,
                format!(
                    "step `{}` has neither `request` nor `expect_message`",
                    step.name.value
                ),
            )),
            _ => {}
        }
        if let Some(req) = &step.request {
            let r = &req.value;
            self.spanned(&r.path);
            if !r.path.value.starts_with('/') && !r.path.value.starts_with("{{") {
                self.out.push(
                    Diagnostic::new(pos(&r.path), "the path must start with `/`")
                        .help("it is relative to the service: /orders, not orders or a URL"),
                );
            }
            for (_, _, v) in r.headers.iter() {
                self.node(v);
            }
            if let Some(json) = &r.json {
                self.node(json);
            }
            if let Some(body) = &r.body {
                self.spanned(body);
            }
            if let (Some(_), Some(body)) = (&r.json, &r.body) {
                self.out.push(Diagnostic::new(
                    pos(body),
                    "`json` and `body` both give the body; keep one",
                ));
            }
            if let Some(t) = &r.timeout {
                self.duration(t);
            }
        } else {
            for (what, present) in [
                ("expect", step.expect.is_some()),
                ("capture", !step.capture.is_empty()),
                ("eventually", step.eventually.is_some()),
            ] {
                if present {
                    self.out.push(Diagnostic::new(
                        at,
                        format!("`{what}` belongs to a step with a `request`"),
                    ));
                }
            }
        }
        if let Some(expect) = &step.expect {
            if let Some(status) = &expect.status {
                if let Err(e) = status_spec(status) {
                    self.out.push(e);
                }
            }
            for (_, _, m) in expect.headers.iter() {
                self.matcher(m);
            }
            for (path, at, m) in expect.json.iter() {
                self.json_path(path, at);
                self.matcher(m);
            }
        }
        if let Some(ev) = &step.eventually {
            let ev = &ev.value;
            self.duration(&ev.within);
            for d in [&ev.interval, &ev.max_interval].into_iter().flatten() {
                self.duration(d);
            }
            if ev.backoff.is_some_and(|b| !(1.0..=10.0).contains(&b)) {
                self.out
                    .push(Diagnostic::new(at, "`backoff` must be between 1 and 10"));
            }
            for (path, at, m) in ev.fail_fast.iter() {
                self.json_path(path, at);
                self.matcher(m);
            }
        }
        if let Some(m) = &step.expect_message {
            let m = &m.value;
            self.template_in(pos(&m.exchange), &m.exchange.value, Some(fixed));
            self.template_in(pos(&m.routing_key), &m.routing_key.value, Some(fixed));
            if let Some(w) = &m.within {
                self.duration(w);
            }
            for (path, at, matcher) in m.json.iter() {
                self.json_path(path, at);
                self.matcher(matcher);
            }
            for (_, _, matcher) in m.headers.iter() {
                self.matcher(matcher);
            }
        }
        // Captures become known after the step (a step cannot use its own capture).
        for (name, at, c) in step.capture.iter() {
            match (&c.json, &c.header) {
                (Some(path), None) => self.json_path(&path.value, pos(path)),
                (None, Some(_)) => {}
                _ => self.out.push(Diagnostic::new(
                    at,
                    format!(
                        "capture `{name}` needs exactly one of `json` (a JSONPath) and `header`"
                    ),
                )),
            }
        }
        for (name, _, _) in step.capture.iter() {
            self.known.insert(name.to_owned());
        }
    }
}

/// Every problem in a parsed journey (empty when it can run).
pub fn check(journey: &Journey) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    if journey.name.value.trim().is_empty() {
        out.push(Diagnostic::new(
            pos(&journey.name),
            "the journey needs a name",
        ));
    }
    if journey.steps.is_empty() {
        out.push(Diagnostic::new(
            pos(&journey.name),
            "the journey has no steps",
        ));
    }
    let mut checker = Checker {
        templates: Templates::default(),
        known: BUILTINS.iter().map(|s| s.to_string()).collect(),
        out: &mut out,
    };
    for (name, at, value) in journey.variables.iter() {
        checker.node(value);
        if BUILTINS.contains(&name) {
            checker.out.push(Diagnostic::new(
                at,
                format!("`{name}` is a built-in name; choose another"),
            ));
        }
        checker.known.insert(name.to_owned());
    }
    let fixed = checker.known.clone();
    let mut names: Vec<&Spanned<String>> = Vec::new();
    for step in &journey.steps {
        checker.step(step, &fixed);
        names.push(&step.name);
    }
    // Clean-up may use any capture: one that never happened is an error when it runs.
    for step in &journey.finally {
        checker.step(step, &fixed);
        names.push(&step.name);
    }
    drop(checker);
    for (i, n) in names.iter().enumerate() {
        if names[..i].iter().any(|m| m.value == n.value) {
            out.push(Diagnostic::new(
                pos(n),
                format!("another step is already named `{}`", n.value),
            ));
        }
    }
    out
}
