//! The stack section of a load report: each service's CPU and memory during the run (Docker
//! stats) and the error lines it logged meanwhile, so a slow step points at the service that
//! was busy or failing. This is what a load tool that only sees HTTP cannot tell.
//!
//! Sampling follows `docker stats`: one stats stream per container (the engine sends a reading
//! about every second), CPU as the share of one core between two readings, memory without the
//! page cache. The streams end when the run does; logs are read once, after it.

use crate::testing::{compact_log_line, targets::Targets};
use bollard::models::ContainerStatsResponse;
use bollard::query_parameters::StatsOptions;
use bollard::Docker;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::task::JoinHandle;

/// How many error lines per service the report quotes (all are counted).
const QUOTED: usize = 3;

/// One container during the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceUsage {
    pub service: String,
    pub container: String,
    /// Share of one core, in percent (200 = two cores busy), averaged over the readings.
    pub cpu_avg_pct: f64,
    pub cpu_max_pct: f64,
    pub mem_max_mib: f64,
    pub samples: usize,
    /// Lines logged at ERROR (kit's JSON) or marked as errors (`ERROR:`, `FATAL:`, `[error]`,
    /// a panic) since the run started.
    pub error_lines: usize,
    pub first_errors: Vec<String>,
}

#[derive(Default, Clone)]
struct Readings {
    cpu: Vec<f64>,
    mem_max: u64,
}

/// Streams stats of every running container of the project until [`Sampler::finish`].
pub struct Sampler {
    started: SystemTime,
    containers: Vec<crate::testing::targets::Container>,
    readings: Arc<Mutex<HashMap<String, Readings>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Sampler {
    /// Nothing is sampled when Docker is not reached (`--url` to a stack elsewhere).
    pub async fn start(targets: &Targets) -> Sampler {
        let containers = match targets.docker() {
            Some(_) => targets.containers().await,
            None => Vec::new(),
        };
        let readings: Arc<Mutex<HashMap<String, Readings>>> = Arc::default();
        let tasks = match targets.docker() {
            Some(docker) => containers
                .iter()
                .map(|c| tokio::spawn(stream(docker.clone(), c.name.clone(), readings.clone())))
                .collect(),
            None => Vec::new(),
        };
        Sampler {
            started: SystemTime::now(),
            containers,
            readings,
            tasks,
        }
    }

    /// Stops sampling and reads the logs written since the start; busiest service first.
    pub async fn finish(self, targets: &Targets) -> Vec<ServiceUsage> {
        for task in &self.tasks {
            task.abort();
        }
        let readings = self.readings.lock().expect("lock").clone();
        let since = self
            .started
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs() as i64;
        let mut rows = Vec::new();
        for c in &self.containers {
            let r = readings.get(&c.name).cloned().unwrap_or_default();
            let errors: Vec<String> = targets
                .logs_since(&c.name, since)
                .await
                .iter()
                .filter_map(|line| after(line, self.started))
                .filter(|line| is_error(line))
                .map(compact_log_line)
                .collect();
            rows.push(ServiceUsage {
                service: c.service.clone(),
                container: c.name.clone(),
                cpu_avg_pct: r.cpu.iter().sum::<f64>() / (r.cpu.len().max(1) as f64),
                cpu_max_pct: r.cpu.iter().copied().fold(0.0, f64::max),
                mem_max_mib: r.mem_max as f64 / (1024.0 * 1024.0),
                samples: r.cpu.len(),
                error_lines: errors.len(),
                first_errors: errors.into_iter().take(QUOTED).collect(),
            });
        }
        rows.sort_by(|a, b| b.cpu_avg_pct.total_cmp(&a.cpu_avg_pct));
        rows
    }
}

/// One container's stats stream, CPU from consecutive readings.
async fn stream(docker: Docker, container: String, into: Arc<Mutex<HashMap<String, Readings>>>) {
    let options = StatsOptions {
        stream: true,
        one_shot: false,
    };
    let mut stats = docker.stats(&container, Some(options));
    let mut before: Option<(u64, u64)> = None;
    while let Some(Ok(s)) = stats.next().await {
        let now = cpu_counters(&s);
        let cpu = match (before, now) {
            (Some(b), Some(n)) => cpu_percent(b, n, online_cpus(&s)),
            _ => None,
        };
        before = now.or(before);
        let mut all = into.lock().expect("lock");
        let r = all.entry(container.clone()).or_default();
        if let Some(cpu) = cpu {
            r.cpu.push(cpu);
        }
        r.mem_max = r.mem_max.max(memory_used(&s));
    }
}

/// (the container's CPU time, the host's CPU time), both in nanoseconds.
fn cpu_counters(s: &ContainerStatsResponse) -> Option<(u64, u64)> {
    let cpu = s.cpu_stats.as_ref()?;
    Some((cpu.cpu_usage.as_ref()?.total_usage?, cpu.system_cpu_usage?))
}

fn online_cpus(s: &ContainerStatsResponse) -> u32 {
    s.cpu_stats
        .as_ref()
        .and_then(|c| c.online_cpus)
        .unwrap_or(1)
}

/// `docker stats`' CPU %: the container's share of the host's CPU time between two readings,
/// times the cores (100 % = one core).
pub fn cpu_percent(before: (u64, u64), now: (u64, u64), cpus: u32) -> Option<f64> {
    let used = now.0.checked_sub(before.0)? as f64;
    let host = now.1.checked_sub(before.1)? as f64;
    (host > 0.0).then(|| used / host * f64::from(cpus) * 100.0)
}

/// Memory as `docker stats` shows it: usage without the inactive page cache (cgroup v2's
/// `inactive_file`, v1's `total_inactive_file`).
fn memory_used(s: &ContainerStatsResponse) -> u64 {
    let Some(m) = &s.memory_stats else { return 0 };
    let usage = m.usage.unwrap_or(0);
    let cache = m
        .stats
        .as_ref()
        .and_then(|st| {
            st.get("inactive_file")
                .or(st.get("total_inactive_file"))
                .copied()
        })
        .unwrap_or(0);
    usage.saturating_sub(cache)
}

/// The line without Docker's timestamp, if it was written at or after `start`.
fn after(line: &str, start: SystemTime) -> Option<&str> {
    let (stamp, rest) = line.split_once(' ')?;
    let at = humantime::parse_rfc3339_weak(stamp.trim_end_matches('Z')).ok()?;
    (at >= start).then_some(rest)
}

/// Whether a service's log line reports an error: kit's JSON at level ERROR, or the words
/// PostgreSQL (`ERROR:`, `FATAL:`), RabbitMQ (`[error]`) and a Rust panic use.
pub fn is_error(line: &str) -> bool {
    if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(line) {
        return matches!(o.get("level").and_then(|l| l.as_str()), Some("ERROR"));
    }
    ["ERROR:", "FATAL:", "PANIC:", "[error]", "panicked at"]
        .iter()
        .any(|w| line.contains(w))
}

/// The section as people read it: one row per container, then the first error lines.
pub fn render(rows: &[ServiceUsage]) -> String {
    if rows.is_empty() {
        return String::new();
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.container.clone(),
                format!("{:.0}%", r.cpu_avg_pct),
                format!("{:.0}%", r.cpu_max_pct),
                format!("{:.0}", r.mem_max_mib),
                r.error_lines.to_string(),
            ]
        })
        .collect();
    let mut out = String::from(
        "\nthe stack during the run (Docker stats; 100% = one core; busiest first):\n",
    );
    out.push_str(&crate::ui::table(
        &[
            "CONTAINER",
            "CPU AVG",
            "CPU MAX",
            "MEM MAX MIB",
            "ERROR LINES",
        ],
        &table,
    ));
    for r in rows.iter().filter(|r| r.error_lines > 0) {
        out.push_str(&format!(
            "{} logged {} error line{}; the first:\n",
            r.container,
            r.error_lines,
            if r.error_lines == 1 { "" } else { "s" }
        ));
        for line in &r.first_errors {
            out.push_str(&format!("  {line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_the_share_of_host_time_times_the_cores() {
        // 0.5 s of the container over 2 s of host time (both cores) is one core busy half...
        assert_eq!(
            cpu_percent((0, 0), (500_000_000, 2_000_000_000), 2),
            Some(50.0)
        );
        // ...and a counter that went back (a restarted container) gives no reading.
        assert_eq!(cpu_percent((10, 10), (5, 20), 2), None);
        assert_eq!(cpu_percent((0, 10), (5, 10), 2), None);
    }

    #[test]
    fn error_lines_are_found_in_kit_json_postgres_rabbitmq_and_panics() {
        assert!(is_error(
            r#"{"timestamp":"t","level":"ERROR","fields":{"message":"db down"}}"#
        ));
        assert!(!is_error(
            r#"{"timestamp":"t","level":"INFO","fields":{"message":"ERROR: in a message"}}"#
        ));
        assert!(is_error(
            "2026-12-01 02:00:00.000 UTC [42] ERROR:  duplicate key value"
        ));
        assert!(is_error("2026-12-01 02:00:00 [error] <0.1.0> closing"));
        assert!(is_error("thread 'main' panicked at src/main.rs:1:1"));
        assert!(!is_error("2026-12-01 02:00:00 [info] <0.1.0> accepting"));
    }

    #[test]
    fn only_lines_written_since_the_start_count() {
        let start = humantime::parse_rfc3339("2026-12-01T02:00:00.500Z").unwrap();
        assert_eq!(after("2026-12-01T02:00:00.75Z late", start), Some("late"));
        assert_eq!(after("2026-12-01T02:00:00.123456789Z early", start), None);
        assert_eq!(after("no stamp", start), None);
    }
}
