//! Logs: the last lines of every service (or one) with filters, then new lines live over
//! server-sent events; structured fields as columns; a line with a trace id links to its trace.

use crate::dashboard::store::{LogFilter, LogRow};
use crate::dashboard::Shared;
use axum::extract::{Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::convert::Infallible;

#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct LogQuery {
    #[serde(default)]
    service: String,
    #[serde(default)]
    level: String,
    #[serde(default)]
    q: String,
}

impl LogQuery {
    fn filter(&self, limit: usize) -> LogFilter {
        let some = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        LogFilter {
            service: some(&self.service),
            level: some(&self.level),
            text: some(&self.q),
            trace_id: None,
            limit,
        }
    }
}

/// The field names shown as columns: the ones most lines here carry (at most six).
fn columns(rows: &[LogRow]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for r in rows {
        for k in r.fields.keys() {
            if k != "request_id" && k != "span_id" {
                *counts.entry(k).or_default() += 1;
            }
        }
    }
    let mut by_count: Vec<(&str, usize)> = counts.into_iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    by_count
        .into_iter()
        .take(6)
        .map(|(k, _)| k.to_owned())
        .collect()
}

pub async fn page(State(state): State<Shared>, Query(q): Query<LogQuery>) -> Response {
    let filter = q.filter(300);
    let store = state.store.clone();
    let read = tokio::task::spawn_blocking(move || {
        let r = store.reader()?;
        let rows = r.logs(&filter).map_err(|e| e.to_string())?;
        Ok::<_, String>(rows)
    })
    .await;
    let mut services = state.store.services();
    let rows = match read {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return super::store_error(e),
        Err(e) => return super::store_error(e),
    };
    for s in &state.stack.services {
        if !services.contains(&s.name) {
            services.push(s.name.clone());
        }
    }
    services.sort();
    let columns = columns(&rows);
    let stream_query = stream_query(&q);
    super::render(
        &state,
        "logs.html",
        "logs",
        minijinja::context! { rows, services, columns, q, stream_query },
    )
}

/// The page's filter as the live stream's query string.
fn stream_query(q: &LogQuery) -> String {
    use crate::testing::percent_encode as enc;
    format!(
        "service={}&level={}&q={}",
        enc(&q.service),
        enc(&q.level),
        enc(&q.q)
    )
}

/// `GET /logs/stream`: each new line that passes the filter, as an event whose data is the
/// line as JSON (the page's script renders it).
pub async fn stream(
    State(state): State<Shared>,
    Query(q): Query<LogQuery>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let filter = q.filter(0);
    let rx = state.live.subscribe();
    let events = futures_util::stream::unfold((rx, filter), |(mut rx, filter)| async move {
        loop {
            match rx.recv().await {
                Ok(row) if filter.matches(&row) => {
                    let data = serde_json::to_string(&row).unwrap_or_default();
                    return Some((Ok(Event::default().event("line").data(data)), (rx, filter)));
                }
                Ok(_) => continue,
                // A slow reader skipped lines: say so rather than pretend.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    let data = format!("{{\"skipped\":{n}}}");
                    return Some((
                        Ok(Event::default().event("skipped").data(data)),
                        (rx, filter),
                    ));
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(events).keep_alive(KeepAlive::default())
}
