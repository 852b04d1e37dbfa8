//! Every container's output, as the engine has it, into the store and the live stream.
//!
//! Lines are read with Docker's timestamps and parsed: kit services write JSON (`level`,
//! `fields.message`, and the request span's `trace_id`), which become the line's level, text,
//! trace link and columns; anything else is kept as text with a level guessed from its words.
//! A container is followed while it runs; a restarted one continues after the last line seen.

use crate::dashboard::store::{LogRow, Write};
use crate::dashboard::Shared;
use crate::docker::LABEL_SERVICE;
use bollard::query_parameters::LogsOptions;
use futures_util::StreamExt;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Lines taken from a container's past the first time it is seen.
const BACKLOG: usize = 200;

/// Follows the project's containers until the task is aborted.
pub async fn follow(state: Shared) {
    let Some(docker) = state.docker.clone() else {
        return;
    };
    // Container id → the last timestamp read (Unix seconds), so a restart does not repeat lines.
    let seen: Arc<Mutex<HashMap<String, i64>>> = Arc::default();
    let following: Arc<Mutex<HashSet<String>>> = Arc::default();
    loop {
        if let Ok(list) = crate::engine::list_project(&docker, &state.stack.name).await {
            for c in list {
                let (Some(id), Some(state_name)) = (c.id.clone(), c.state) else {
                    continue;
                };
                if state_name.to_string() != "running"
                    || following.lock().expect("lock").contains(&id)
                {
                    continue;
                }
                let service = c
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_SERVICE).cloned())
                    .unwrap_or_else(|| crate::docker::summary_name(&c));
                following.lock().expect("lock").insert(id.clone());
                let (docker, state, seen, following) = (
                    docker.clone(),
                    state.clone(),
                    seen.clone(),
                    following.clone(),
                );
                tokio::spawn(async move {
                    let since = seen.lock().expect("lock").get(&id).copied();
                    let options = LogsOptions {
                        follow: true,
                        stdout: true,
                        stderr: true,
                        timestamps: true,
                        since: since.map(|s| s as i32).unwrap_or(0),
                        tail: if since.is_some() {
                            "all".into()
                        } else {
                            BACKLOG.to_string()
                        },
                        ..Default::default()
                    };
                    let mut stream = docker.logs(&id, Some(options));
                    let mut pending = String::new();
                    while let Some(Ok(chunk)) = stream.next().await {
                        pending.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                        let mut rows = Vec::new();
                        while let Some(end) = pending.find('\n') {
                            let line: String = pending.drain(..=end).collect();
                            if let Some(row) = parse(&service, line.trim_end()) {
                                rows.push(row);
                            }
                        }
                        if let Some(last) = rows.last() {
                            seen.lock()
                                .expect("lock")
                                .insert(id.clone(), last.time_ns / 1_000_000_000 + 1);
                        }
                        if state.live.receiver_count() > 0 {
                            for row in &rows {
                                let _ = state.live.send(row.clone());
                            }
                        }
                        if !rows.is_empty() {
                            // Waits when the writer is behind: the engine keeps the rest.
                            let store = state.store.clone();
                            let _ =
                                tokio::task::spawn_blocking(move || store.send(Write::Logs(rows)))
                                    .await;
                        }
                    }
                    following.lock().expect("lock").remove(&id);
                });
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

/// One line of `docker logs --timestamps` output as a row.
pub fn parse(service: &str, line: &str) -> Option<LogRow> {
    let (stamp, body) = line.split_once(' ').unwrap_or((line, ""));
    let time_ns = humantime::parse_rfc3339_weak(stamp)
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos() as i64)?;
    if body.trim().is_empty() {
        return None;
    }
    let mut row = LogRow {
        id: None,
        time_ns,
        service: service.to_owned(),
        level: String::new(),
        message: body.to_owned(),
        trace_id: String::new(),
        fields: BTreeMap::new(),
    };
    match serde_json::from_str::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(json)) => {
            let text = |v: &serde_json::Value| match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            for (key, value) in &json {
                match (key.as_str(), value) {
                    ("level", v) => row.level = text(v).to_ascii_uppercase(),
                    ("timestamp", _) => {}
                    ("message" | "msg", v) => row.message = text(v),
                    ("fields" | "span", serde_json::Value::Object(inner)) => {
                        for (k, v) in inner {
                            match k.as_str() {
                                "message" => row.message = text(v),
                                "name" if key == "span" => {}
                                // The exported span's own name and kind (kit), not the line's.
                                k if k.starts_with("otel.") => {}
                                "trace_id" => row.trace_id = text(v),
                                _ => {
                                    row.fields.insert(k.clone(), text(v));
                                }
                            }
                        }
                    }
                    ("trace_id", v) => row.trace_id = text(v),
                    (k, v) => {
                        row.fields.insert(k.to_owned(), text(v));
                    }
                }
            }
        }
        _ => row.level = guess_level(body).to_owned(),
    }
    Some(row)
}

fn guess_level(text: &str) -> &'static str {
    let upper = text.to_ascii_uppercase();
    if ["ERROR", "FATAL", "PANIC"]
        .iter()
        .any(|w| upper.contains(w))
    {
        "ERROR"
    } else if upper.contains("WARN") {
        "WARN"
    } else if upper.contains("DEBUG") {
        "DEBUG"
    } else {
        "INFO"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kit_json_lines_become_level_message_trace_and_columns() {
        let line = r#"2026-12-07T10:00:00.5Z {"timestamp":"x","level":"WARN","fields":{"message":"charge declined","status":402,"elapsed_ms":12},"span":{"method":"POST","path":"/payments","request_id":"r1","trace_id":"4bf92f3577b34da6a3ce929d0e0e4736","name":"request"}}"#;
        let row = parse("payment-service", line).unwrap();
        assert_eq!(row.level, "WARN");
        assert_eq!(row.message, "charge declined");
        assert_eq!(row.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(row.fields["status"], "402");
        assert_eq!(row.fields["path"], "/payments");
        assert!(!row.fields.contains_key("name"));
        assert_eq!(row.time_ns, 1_796_637_600_500_000_000);
    }

    #[test]
    fn plain_lines_keep_their_text_and_get_a_level_from_their_words() {
        let row = parse(
            "postgres",
            "2026-12-07T10:00:00Z 2026-12-07 10:00:00 UTC [1] ERROR:  relation does not exist",
        )
        .unwrap();
        assert_eq!(row.level, "ERROR");
        assert!(row.message.contains("relation"));
        assert!(row.trace_id.is_empty());
        assert!(parse("x", "no timestamp here").is_none());
    }
}
