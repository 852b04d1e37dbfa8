//! Load files: `loadtests/*.yaml`, a team's load test committed like its journeys. A profile
//! names journeys with weights, users, ramp, duration (or iterations) and thresholds; every
//! problem is reported at `file:line:column` before anything is sent.

use crate::diag::{did_you_mean, parse_yaml, pos, Diagnostic, FileErrors, Pos, Spanned};
use schemars::JsonSchema;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where profiles live, next to the stack file.
pub const DIR: &str = "loadtests";

/// One load profile.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// What `msctl load NAME` calls it (the file's stem by convention).
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Journeys from scenarios/, each with a weight (how many users run it, relatively).
    pub journeys: Vec<Weighted>,
    /// Simulated users (default 10).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub users: Option<Spanned<usize>>,
    /// Time to start every user, e.g. `10s` (default 0).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub ramp: Option<Spanned<String>>,
    /// Each user's think time between two journey runs, e.g. `1s` (default: none). All users
    /// share one client address, so the gateway's per-client limit (50/s) caps the whole run.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub pause: Option<Spanned<String>>,
    /// How long to run, e.g. `60s` (default 30s) ...
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub duration: Option<Spanned<String>>,
    /// ... or how many times each user runs its journey.
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub iterations: Option<Spanned<usize>>,
    /// k6-style rules: `p(95) < 200ms`, `rate(failed) < 1%`, `rps >= 50`, `… for STEP`.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub thresholds: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Weighted {
    #[schemars(with = "String")]
    pub journey: Spanned<String>,
    /// Relative share of the users (default 1).
    #[serde(default)]
    #[schemars(with = "Option<usize>")]
    pub weight: Option<Spanned<usize>>,
}

/// A profile, checked: durations parsed, journeys known, rules valid.
#[derive(Debug)]
pub struct Checked {
    pub file: PathBuf,
    pub name: String,
    pub description: Option<String>,
    pub journeys: Vec<(String, usize)>,
    pub users: Option<usize>,
    pub ramp: Option<Duration>,
    pub pause: Option<Duration>,
    pub duration: Option<Duration>,
    pub iterations: Option<usize>,
    pub thresholds: Vec<String>,
}

pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(Profile)).expect("schema serializes")
}

/// Every profile in `dir`, sorted by file name.
pub fn files(dir: &Path) -> Vec<PathBuf> {
    crate::diag::yaml_files(dir)
}

/// Reads and checks a profile; `journeys` are the names known in scenarios/.
pub fn load(file: &Path, journeys: &[&str]) -> Result<Checked, FileErrors> {
    let text = std::fs::read_to_string(file).map_err(|e| {
        FileErrors::one(
            file,
            Diagnostic::new(Pos::default(), format!("cannot read the load file: {e}")),
        )
    })?;
    let profile: Profile = parse_yaml(&text, file)?;
    let mut problems = Vec::new();
    let mut duration = |d: &Option<Spanned<String>>| {
        d.as_ref()
            .and_then(|d| match humantime::parse_duration(&d.value) {
                Ok(v) => Some(v),
                Err(e) => {
                    problems.push(
                        Diagnostic::new(pos(d), format!("`{}` is not a duration: {e}", d.value))
                            .help("write it like 30s, 2m or 1m30s"),
                    );
                    None
                }
            })
    };
    let ramp = duration(&profile.ramp);
    let pause = duration(&profile.pause);
    let run_for = duration(&profile.duration);
    if let (Some(_), Some(i)) = (&profile.duration, &profile.iterations) {
        problems.push(Diagnostic::new(
            pos(i),
            "give `duration` or `iterations`, not both",
        ));
    }
    if profile.journeys.is_empty() {
        problems.push(Diagnostic::new(
            pos(&profile.name),
            "a load profile needs at least one journey",
        ));
    }
    for w in &profile.journeys {
        let name = w.journey.value.as_str();
        if !journeys.contains(&name) {
            let help = did_you_mean(name, journeys.iter().copied(), || {
                format!("the journeys are: {}", journeys.join(", "))
            });
            problems.push(
                Diagnostic::new(
                    pos(&w.journey),
                    format!("no journey `{name}` in scenarios/"),
                )
                .help(help),
            );
        }
        if let Some(weight) = &w.weight {
            if weight.value == 0 {
                problems.push(Diagnostic::new(pos(weight), "a weight is at least 1"));
            }
        }
    }
    if let Some(users) = &profile.users {
        if users.value == 0 {
            problems.push(Diagnostic::new(pos(users), "at least one user"));
        }
    }
    for rule in &profile.thresholds {
        if let Err(e) = super::rules::to_goose(&rule.value) {
            problems.push(Diagnostic::new(pos(rule), e));
        }
    }
    if !problems.is_empty() {
        return Err(FileErrors {
            file: file.to_path_buf(),
            diagnostics: problems,
        });
    }
    Ok(Checked {
        file: file.to_path_buf(),
        name: profile.name.value,
        description: profile.description,
        journeys: profile
            .journeys
            .iter()
            .map(|w| {
                (
                    w.journey.value.clone(),
                    w.weight.as_ref().map_or(1, |w| w.value),
                )
            })
            .collect(),
        users: profile.users.map(|u| u.value),
        ramp,
        pause,
        duration: run_for,
        iterations: profile.iterations.map(|i| i.value),
        thresholds: profile.thresholds.into_iter().map(|t| t.value).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Checked, FileErrors> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.yaml");
        std::fs::write(&file, text).unwrap();
        load(&file, &["checkout-happy-path", "anonymous-401"])
    }

    #[test]
    fn a_profile_reads_with_its_defaults() {
        let p = check("name: smoke\njourneys:\n  - journey: anonymous-401\n  - { journey: checkout-happy-path, weight: 3 }\nusers: 4\nduration: 20s\nthresholds: [\"p(95) < 500ms\"]\n").unwrap();
        assert_eq!(
            p.journeys,
            [
                ("anonymous-401".to_owned(), 1),
                ("checkout-happy-path".to_owned(), 3)
            ]
        );
        assert_eq!(p.duration, Some(Duration::from_secs(20)));
        assert_eq!(p.users, Some(4));
    }

    #[test]
    fn every_problem_is_reported_at_its_line_and_column() {
        let err = check("name: x\njourneys:\n  - journey: checkout-happy-pat\n    weight: 0\nramp: soon\nthresholds:\n  - latency < 2s\n").unwrap_err();
        let at: Vec<(u64, u64)> = err
            .diagnostics
            .iter()
            .map(|d| (d.pos.line, d.pos.column))
            .collect();
        assert_eq!(
            at,
            [(5, 7), (3, 14), (4, 13), (7, 5)],
            "{:?}",
            err.diagnostics
        );
        assert!(err.diagnostics[1]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("checkout-happy-path"));
    }

    #[test]
    fn an_unknown_key_is_refused() {
        let err = check("name: x\njourneys: []\nuser: 3\n").unwrap_err();
        assert_eq!(err.diagnostics[0].pos.line, 3);
    }
}
