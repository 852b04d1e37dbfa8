//! What a step expects, compiled from its file once before the first attempt: the status, header
//! and JSONPath checks of a response (or of a message's body), and `eventually`'s polling.

use super::transport::{select, Response};
use super::{Failed, Runner};
use crate::diag::{pos, Pos, Spanned, SpannedMap};
use crate::journeys::matcher::{self, show, Op};
use crate::journeys::model::{Eventually, Expect, Node};
use crate::journeys::parse::{self, StatusRule};
use crate::journeys::template::Scope;
use serde_json::Value;
use std::time::Duration;

impl Runner {
    pub(super) fn expectations(
        &self,
        expect: &Expect,
        scope: &Scope,
    ) -> Result<Expectations, Failed> {
        let status = match &expect.status {
            Some(s) => (pos(s), parse::status_spec(s).map_err(Failed::from)?),
            None => (Pos::default(), Vec::new()),
        };
        let mut checks = Vec::new();
        for (name, at, m) in expect.headers.iter() {
            checks.push(Check::header(name, at, self.ops(m, scope)?));
        }
        checks.extend(self.json_checks(&expect.json, scope)?);
        Ok(Expectations { status, checks })
    }

    pub(super) fn json_checks(
        &self,
        map: &SpannedMap<Spanned<Node>>,
        scope: &Scope,
    ) -> Result<Vec<Check>, Failed> {
        let mut checks = Vec::new();
        for (path, at, m) in map.iter() {
            let parsed = serde_json_path::JsonPath::parse(path)
                .map_err(|e| Failed(at, format!("invalid JSONPath `{path}`: {e}")))?;
            checks.push(Check {
                at,
                what: path.to_owned(),
                source: Source::Json(parsed),
                ops: self.ops(m, scope)?,
            });
        }
        Ok(checks)
    }

    pub(super) fn ops(&self, m: &Spanned<Node>, scope: &Scope) -> Result<Vec<Op>, Failed> {
        matcher::compile(m, &self.templates, scope).map_err(|(at, e)| Failed(at, e))
    }

    pub(super) fn eventually(&self, ev: &Eventually, scope: &Scope) -> Result<Poll, Failed> {
        let d = |s: &Option<Spanned<String>>, default: Duration| match s {
            Some(s) => parse::duration(s).map_err(|d| Failed(d.pos, d.message)),
            None => Ok(default),
        };
        Ok(Poll {
            at: pos(&ev.within),
            within: parse::duration(&ev.within).map_err(Failed::from)?,
            interval: d(&ev.interval, Duration::from_millis(100))?,
            max_interval: d(&ev.max_interval, Duration::from_secs(1))?,
            backoff: ev.backoff.unwrap_or(1.5),
            fail_fast: self.json_checks(&ev.fail_fast, scope)?,
        })
    }
}

pub(super) struct Expectations {
    status: (Pos, Vec<StatusRule>),
    checks: Vec<Check>,
}

impl Expectations {
    /// What did not hold, each with where it is written.
    pub(super) fn check(&self, resp: &Response) -> Vec<(Pos, String)> {
        let mut failures = Vec::new();
        let (at, rules) = &self.status;
        if !rules.is_empty() && !rules.iter().any(|r| r.holds(resp.status)) {
            let wanted: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
            failures.push((
                *at,
                format!(
                    "status: expected {}, got {}",
                    wanted.join(" or "),
                    resp.status
                ),
            ));
        }
        failures.extend(
            self.checks
                .iter()
                .filter_map(|c| c.check(resp).map(|f| (c.at, f))),
        );
        failures
    }
}

enum Source {
    Header(String),
    Json(serde_json_path::JsonPath),
}

pub(super) struct Check {
    pub(super) at: Pos,
    pub(super) what: String,
    source: Source,
    ops: Vec<Op>,
}

impl Check {
    fn header(name: &str, at: Pos, ops: Vec<Op>) -> Self {
        Check {
            at,
            what: format!("header {name}"),
            source: Source::Header(name.to_owned()),
            ops,
        }
    }

    fn values(&self, resp: &Response) -> Result<Vec<Value>, String> {
        match &self.source {
            Source::Header(name) => Ok(resp.header(name).map(Value::String).into_iter().collect()),
            Source::Json(path) => match &resp.json {
                Some(json) => Ok(select(path, json)),
                None => Err(format!(
                    "{}: the response body is not JSON ({})",
                    self.what,
                    resp.excerpt()
                )),
            },
        }
    }

    pub(super) fn check(&self, resp: &Response) -> Option<String> {
        match self.values(resp) {
            Ok(found) => matcher::check(&self.ops, &found).map(|p| format!("{}: {p}", self.what)),
            Err(e) => Some(e),
        }
    }

    pub(super) fn check_json(&self, json: &Value) -> Option<String> {
        let Source::Json(path) = &self.source else {
            return None;
        };
        let found = select(path, json);
        matcher::check(&self.ops, &found)
    }

    /// What the response has at this check's place, for "gave up because …".
    pub(super) fn describe(&self, resp: &Response) -> String {
        match self.values(resp) {
            Ok(found) => format!(
                "{} is {}",
                self.what,
                found.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            Err(e) => e,
        }
    }
}

/// `eventually`: how long and how often a step's request is tried again.
pub(super) struct Poll {
    pub(super) at: Pos,
    pub(super) within: Duration,
    pub(super) interval: Duration,
    pub(super) max_interval: Duration,
    pub(super) backoff: f64,
    pub(super) fail_fast: Vec<Check>,
}
