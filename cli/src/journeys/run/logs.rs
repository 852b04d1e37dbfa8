//! After a failed run: the stack's log lines that carry the run's trace or request id.

use super::{RunIds, Runner};
use crate::testing::compact_log_line;
use std::time::SystemTime;

const LOG_LINES_PER_SERVICE: usize = 12;

impl Runner {
    /// Log lines of the project's containers since the run started that carry its trace or
    /// request id, in time order, the last few of each service (a flood of identical requests
    /// must not hide the one line that explains the failure).
    pub(super) async fn log_lines(&self, ids: &RunIds, since: SystemTime) -> Vec<String> {
        let containers = self.targets.containers().await;
        let since = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .saturating_sub(1) as i64;
        let mut lines: Vec<(String, String)> = Vec::new();
        for c in containers {
            let all = self.targets.logs_since(&c.name, since).await;
            let mine: Vec<(&str, &str)> = all
                .iter()
                .filter(|l| l.contains(&ids.trace_id) || l.contains(&ids.request_id))
                .map(|l| l.split_once(' ').unwrap_or(("", l)))
                .collect();
            let cut = mine.len().saturating_sub(LOG_LINES_PER_SERVICE);
            if let (true, Some((stamp, _))) = (cut > 0, mine.get(cut)) {
                lines.push((
                    stamp.to_string(),
                    format!("{} | ({cut} earlier lines)", c.service),
                ));
            }
            for (stamp, l) in &mine[cut..] {
                lines.push((
                    stamp.to_string(),
                    format!("{} | {}", c.service, compact_log_line(l)),
                ));
            }
        }
        // RFC 3339 stamps of fixed width sort as text; stable, so a marker stays first.
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        lines.into_iter().map(|(_, l)| l).collect()
    }
}
