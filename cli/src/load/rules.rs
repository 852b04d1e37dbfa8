//! Thresholds in k6's words, judged by goose: `p(95) < 200ms`, `p(99) < 1s`,
//! `rate(failed) < 1%`, `rps >= 50`, optionally `… for STEP` (a journey step as the summary
//! names it). goose 0.19 evaluates thresholds itself; this maps k6's syntax onto its rules
//! (`p95<200ms`, `error-rate<1%`, `rps>=50`, `… for GET name`).

/// A k6-style rule as goose reads it. Refused with the reason when it is not one msctl knows.
pub fn to_goose(rule: &str) -> Result<String, String> {
    let (expr, step) = match rule.split_once(" for ") {
        Some((expr, step)) => (expr.trim(), Some(step.trim())),
        None => (rule.trim(), None),
    };
    let compact: String = expr.chars().filter(|c| !c.is_whitespace()).collect();
    let op_at = compact
        .find(['<', '>'])
        .ok_or_else(|| format!("`{rule}`: no comparison (<, <=, > or >=)"))?;
    let (metric, rest) = compact.split_at(op_at);
    let metric = match metric {
        "rate(failed)" | "error-rate" | "error_rate" | "failed" => "error-rate".to_owned(),
        "rps" | "rate(requests)" | "http_reqs" => "rps".to_owned(),
        "avg" | "max" | "med" => metric.replace("med", "p50"),
        m if m.starts_with("p(") && m.ends_with(')') => format!("p{}", &m[2..m.len() - 1]),
        m if m.starts_with('p') && m[1..].parse::<f64>().is_ok() => m.to_owned(),
        other => {
            return Err(format!(
            "`{rule}`: unknown metric `{other}` (use p(95), p(99), avg, max, rate(failed) or rps)"
        ))
        }
    };
    if rest.len() < 2 || rest[1..].trim_start_matches('=').is_empty() {
        return Err(format!("`{rule}`: no value after the comparison"));
    }
    let goose = format!("{metric}{rest}");
    Ok(match step {
        // goose names a request "METHOD name"; every journey request goes out under its step's
        // name, so a step's rule judges it whatever its method.
        Some(step) => format!("{goose} for {step}"),
        None => goose,
    })
}

/// Whether a rule judges failed requests (`rate(failed) < 5%`): such a rule, not the mere
/// presence of failures, decides whether a run with failed journey runs passes.
pub fn judges_failures(rule: &str) -> bool {
    to_goose(rule).is_ok_and(|r| r.starts_with("error-rate"))
}

#[cfg(test)]
mod tests {
    use super::{judges_failures, to_goose};

    #[test]
    fn only_failure_rates_judge_failures() {
        assert!(judges_failures("rate(failed) < 5%"));
        assert!(judges_failures("error-rate < 1% for checkout / pay"));
        assert!(!judges_failures("p(95) < 200ms"));
        assert!(!judges_failures("rps >= 50"));
    }

    #[test]
    fn k6_rules_become_goose_rules() {
        assert_eq!(to_goose("p(95) < 200ms").unwrap(), "p95<200ms");
        assert_eq!(to_goose("p(99.9)<1s").unwrap(), "p99.9<1s");
        assert_eq!(to_goose("rate(failed) < 1%").unwrap(), "error-rate<1%");
        assert_eq!(to_goose("rps >= 50").unwrap(), "rps>=50");
        assert_eq!(to_goose("avg<100").unwrap(), "avg<100");
        assert_eq!(
            to_goose("p(95) < 300ms for GET checkout / place the order").unwrap(),
            "p95<300ms for GET checkout / place the order"
        );
    }

    #[test]
    fn rules_that_are_not_rules_are_refused_with_the_reason() {
        assert!(to_goose("p(95) 200ms")
            .unwrap_err()
            .contains("no comparison"));
        assert!(to_goose("latency < 2s")
            .unwrap_err()
            .contains("unknown metric `latency`"));
        assert!(to_goose("rps >=").unwrap_err().contains("no value"));
    }
}
