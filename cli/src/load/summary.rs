//! The end-of-run table: per step (goose request), count, failures, p50/p95/p99/max and rps,
//! then every threshold with ✓/✗, observed against its limit.

use goose::metrics::GooseMetrics;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct StepFigures {
    pub name: String,
    pub count: usize,
    pub failed: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub rps: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RuleResult {
    pub rule: String,
    pub observed: String,
    pub passed: bool,
}

pub fn steps(metrics: &GooseMetrics) -> Vec<StepFigures> {
    let seconds = (metrics.duration as f64).max(1.0);
    let mut rows: Vec<StepFigures> = metrics
        .requests
        .iter()
        .map(|(name, r)| {
            let ms = |p: f32| r.raw_data.percentile_us(p) as f64 / 1000.0;
            let count = r.success_count + r.fail_count;
            StepFigures {
                name: name.clone(),
                count,
                failed: r.fail_count,
                p50_ms: ms(0.50),
                p95_ms: ms(0.95),
                p99_ms: ms(0.99),
                max_ms: r.raw_data.maximum_time_us as f64 / 1000.0,
                rps: count as f64 / seconds,
            }
        })
        .collect();
    rows.sort_by(|a, b| a.name.cmp(&b.name));
    rows
}

/// Why steps failed: the step, the reason (an expectation, as the journey report words it, or
/// the transport), how often.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ErrorCount {
    pub step: String,
    pub error: String,
    pub count: usize,
}

/// The counted reasons, most frequent first.
pub fn counted(reasons: &std::collections::HashMap<(String, String), usize>) -> Vec<ErrorCount> {
    let mut all: Vec<ErrorCount> = reasons
        .iter()
        .map(|((step, error), count)| ErrorCount {
            step: step.clone(),
            error: error.clone(),
            count: *count,
        })
        .collect();
    all.sort_by(|a, b| b.count.cmp(&a.count).then(a.step.cmp(&b.step)));
    all
}

pub fn rules(metrics: &GooseMetrics) -> Vec<RuleResult> {
    metrics
        .thresholds
        .iter()
        .map(|t| RuleResult {
            rule: t.rule.clone(),
            observed: t.observed.clone(),
            passed: t.passed,
        })
        .collect()
}

pub fn render(steps: &[StepFigures], errors: &[ErrorCount], rules: &[RuleResult]) -> String {
    let rows: Vec<Vec<String>> = steps
        .iter()
        .map(|s| {
            vec![
                s.name.clone(),
                s.count.to_string(),
                s.failed.to_string(),
                format!("{:.1}", s.p50_ms),
                format!("{:.1}", s.p95_ms),
                format!("{:.1}", s.p99_ms),
                format!("{:.1}", s.max_ms),
                format!("{:.1}", s.rps),
            ]
        })
        .collect();
    let mut out = crate::ui::table(
        &[
            "STEP", "COUNT", "FAILED", "P50 MS", "P95 MS", "P99 MS", "MAX MS", "RPS",
        ],
        &rows,
    );
    if !errors.is_empty() {
        out.push_str("\nwhy requests failed (most frequent first):\n");
        for e in errors.iter().take(10) {
            out.push_str(&format!("  {:>6}×  {}: {}\n", e.count, e.step, e.error));
        }
    }
    if !rules.is_empty() {
        out.push('\n');
        for r in rules {
            let mark = if r.passed { "✓" } else { "✗" };
            out.push_str(&format!("{mark} {}  (observed {})\n", r.rule, r.observed));
        }
    }
    out
}
