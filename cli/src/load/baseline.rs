//! Baselines: a run's per-step figures kept under `loadtests/baselines/NAME.json`
//! (`--save-baseline NAME`), and a later run compared with them (`--baseline NAME`): the delta
//! of every figure, and `--max-regression 10%` failing (exit 99) when a step's p95 or
//! throughput got more than that worse.

use super::summary::StepFigures;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where baselines live, next to the stack file.
pub const DIR: &str = "loadtests/baselines";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Baseline {
    pub name: String,
    pub saved_at: String,
    pub steps: Vec<StepFigures>,
}

pub fn path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.json"))
}

pub fn save(dir: &Path, name: &str, steps: &[StepFigures]) -> Result<PathBuf, crate::Error> {
    std::fs::create_dir_all(dir)
        .map_err(crate::Error::io(format!("creating {}", dir.display())))?;
    let baseline = Baseline {
        name: name.to_owned(),
        saved_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        steps: steps.to_vec(),
    };
    let file = path(dir, name);
    let text = serde_json::to_string_pretty(&baseline).expect("serializable") + "\n";
    std::fs::write(&file, text).map_err(crate::Error::io(format!("writing {}", file.display())))?;
    Ok(file)
}

pub fn load(dir: &Path, name: &str) -> Result<Baseline, crate::Error> {
    let file = path(dir, name);
    let text = std::fs::read_to_string(&file).map_err(|e| {
        crate::Error::Usage(format!(
            "no baseline `{name}` ({}: {e}); save one with --save-baseline {name}",
            file.display()
        ))
    })?;
    serde_json::from_str(&text)
        .map_err(|e| crate::Error::Usage(format!("{}: not a baseline: {e}", file.display())))
}

/// One step now against the baseline.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Delta {
    pub name: String,
    pub p95_before_ms: f64,
    pub p95_now_ms: f64,
    /// Positive: slower.
    pub p95_change_pct: f64,
    pub rps_before: f64,
    pub rps_now: f64,
    /// Negative: less throughput.
    pub rps_change_pct: f64,
    /// Worse than `--max-regression` allows (p95 up, or throughput down, by more).
    pub regressed: bool,
}

fn change(before: f64, now: f64) -> f64 {
    if before == 0.0 {
        return 0.0;
    }
    (now - before) / before * 100.0
}

/// Steps present in both runs, compared; `max_regression` in percent.
pub fn compare(before: &Baseline, now: &[StepFigures], max_regression: Option<f64>) -> Vec<Delta> {
    now.iter()
        .filter_map(|s| {
            let b = before.steps.iter().find(|b| b.name == s.name)?;
            let p95 = change(b.p95_ms, s.p95_ms);
            let rps = change(b.rps, s.rps);
            Some(Delta {
                name: s.name.clone(),
                p95_before_ms: b.p95_ms,
                p95_now_ms: s.p95_ms,
                p95_change_pct: p95,
                rps_before: b.rps,
                rps_now: s.rps,
                rps_change_pct: rps,
                regressed: max_regression.is_some_and(|m| p95 > m || -rps > m),
            })
        })
        .collect()
}

pub fn render(name: &str, deltas: &[Delta]) -> String {
    let rows: Vec<Vec<String>> = deltas
        .iter()
        .map(|d| {
            vec![
                d.name.clone(),
                format!("{:.1} → {:.1}", d.p95_before_ms, d.p95_now_ms),
                format!("{:+.1}%", d.p95_change_pct),
                format!("{:.1} → {:.1}", d.rps_before, d.rps_now),
                format!("{:+.1}%", d.rps_change_pct),
                if d.regressed { "✗ regressed" } else { "" }.to_owned(),
            ]
        })
        .collect();
    format!(
        "\nagainst baseline `{name}`:\n{}",
        crate::ui::table(&["STEP", "P95 MS", "P95 Δ", "RPS", "RPS Δ", ""], &rows)
    )
}

/// `10%` or `10` as a percentage.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    text.trim()
        .trim_end_matches('%')
        .parse::<f64>()
        .ok()
        .filter(|v| *v >= 0.0)
        .ok_or_else(|| format!("`{text}` is not a percentage (write it like 10%)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(name: &str, p95: f64, rps: f64) -> StepFigures {
        StepFigures {
            name: name.into(),
            count: 100,
            failed: 0,
            p50_ms: p95 / 2.0,
            p95_ms: p95,
            p99_ms: p95,
            max_ms: p95,
            rps,
        }
    }

    #[test]
    fn a_step_slower_or_thinner_than_allowed_regresses() {
        let before = Baseline {
            name: "b".into(),
            saved_at: String::new(),
            steps: vec![
                step("a", 100.0, 50.0),
                step("b", 100.0, 50.0),
                step("c", 100.0, 50.0),
            ],
        };
        let now = [
            step("a", 105.0, 49.0),
            step("b", 120.0, 50.0),
            step("c", 100.0, 40.0),
            step("new", 1.0, 1.0),
        ];
        let d = compare(&before, &now, Some(10.0));
        assert_eq!(d.len(), 3, "a step the baseline lacks is not compared");
        assert_eq!(
            d.iter().map(|d| d.regressed).collect::<Vec<_>>(),
            [false, true, true]
        );
        assert!((d[1].p95_change_pct - 20.0).abs() < 1e-9);
        assert!((d[2].rps_change_pct + 20.0).abs() < 1e-9);
        // Without a limit nothing regresses; the deltas are still there.
        assert!(compare(&before, &now, None).iter().all(|d| !d.regressed));
    }

    #[test]
    fn a_baseline_round_trips_and_a_missing_one_says_how_to_make_it() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), "main", &[step("a", 10.0, 5.0)]).unwrap();
        assert_eq!(
            load(dir.path(), "main").unwrap().steps,
            [step("a", 10.0, 5.0)]
        );
        let err = load(dir.path(), "other").unwrap_err().to_string();
        assert!(err.contains("--save-baseline other"), "{err}");
        assert_eq!(parse_percent("10%").unwrap(), 10.0);
        assert!(parse_percent("ten").is_err());
    }
}
