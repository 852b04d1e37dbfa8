//! The trace list (filters: service, status, minimum duration, attribute) and one trace as a
//! waterfall: spans in call order, coloured by service, with their details, the critical path
//! marked, and search within the trace.

use crate::dashboard::store::{SpanRow, TraceFilter};
use crate::dashboard::Shared;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Colours for services, in the order the services sort.
pub const PALETTE: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1", "#ff9da7",
    "#9c755f", "#bab0ac",
];

#[derive(Debug, Default, Deserialize, Serialize)]
pub struct ListQuery {
    #[serde(default)]
    service: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    min_ms: String,
    #[serde(default)]
    attr: String,
}

fn some(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_owned())
}

pub async fn list(State(state): State<Shared>, Query(q): Query<ListQuery>) -> Response {
    let filter = TraceFilter {
        service: some(&q.service),
        status: some(&q.status),
        min_duration_ms: q.min_ms.trim().parse().ok(),
        attribute: some(&q.attr),
        limit: 200,
    };
    let store = state.store.clone();
    let read = tokio::task::spawn_blocking(move || {
        let r = store.reader()?;
        let traces = r.traces(&filter).map_err(|e| e.to_string())?;
        Ok::<_, String>(traces)
    })
    .await;
    let services = state.store.services();
    let traces = match read {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return super::store_error(e),
        Err(e) => return super::store_error(e),
    };
    let colours = colours(&services);
    super::render(
        &state,
        "traces.html",
        "traces",
        minijinja::context! { traces, services, colours, q },
    )
}

fn colours(services: &[String]) -> HashMap<String, &'static str> {
    let sorted: BTreeSet<&String> = services.iter().collect();
    sorted
        .into_iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), PALETTE[i % PALETTE.len()]))
        .collect()
}

/// One row of the waterfall.
#[derive(Debug, Serialize)]
pub struct Bar {
    pub span: SpanRow,
    pub depth: usize,
    pub left: f64,
    pub width: f64,
    pub duration_ns: i64,
    pub colour: &'static str,
    pub critical: bool,
    /// Its parent is not among the spans received (not sent, or dropped at the cap).
    pub orphan: bool,
}

/// The waterfall of a trace's spans: depth-first from the roots, children by start time.
pub fn waterfall(spans: Vec<SpanRow>) -> Vec<Bar> {
    if spans.is_empty() {
        return Vec::new();
    }
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(start);
    let total = (end - start).max(1) as f64;
    let ids: HashSet<&str> = spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut children: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut roots = Vec::new();
    for (i, s) in spans.iter().enumerate() {
        if s.parent_id.is_empty() || !ids.contains(s.parent_id.as_str()) || s.parent_id == s.span_id
        {
            roots.push(i);
        } else {
            children.entry(s.parent_id.as_str()).or_default().push(i);
        }
    }
    let by_start = |v: &mut Vec<usize>| v.sort_by_key(|i| (spans[*i].start_ns, *i));
    by_start(&mut roots);
    for v in children.values_mut() {
        by_start(v);
    }
    let mut critical = HashSet::new();
    if let Some(&first_root) = roots
        .iter()
        .max_by_key(|i| spans[**i].end_ns - spans[**i].start_ns)
    {
        mark_critical(
            &spans,
            &children,
            first_root,
            spans[first_root].end_ns,
            &mut critical,
        );
    }
    let services: Vec<String> = spans.iter().map(|s| s.service.clone()).collect();
    let colours = colours(&services);
    let mut order = Vec::new();
    let mut visited = HashSet::new();
    for r in &roots {
        visit(&spans, &children, *r, 0, &mut order, &mut visited);
    }
    let orphan: Vec<bool> = spans
        .iter()
        .map(|s| !s.parent_id.is_empty() && !ids.contains(s.parent_id.as_str()))
        .collect();
    let mut spans: Vec<Option<SpanRow>> = spans.into_iter().map(Some).collect();
    order
        .into_iter()
        .filter_map(|(i, depth)| {
            let span = spans[i].take()?;
            Some(Bar {
                depth,
                left: (span.start_ns - start) as f64 / total * 100.0,
                width: ((span.end_ns - span.start_ns) as f64 / total * 100.0).max(0.2),
                duration_ns: span.end_ns - span.start_ns,
                colour: colours.get(&span.service).copied().unwrap_or(PALETTE[0]),
                critical: critical.contains(&i),
                orphan: orphan[i],
                span,
            })
        })
        .collect()
}

fn visit(
    spans: &[SpanRow],
    children: &HashMap<&str, Vec<usize>>,
    i: usize,
    depth: usize,
    order: &mut Vec<(usize, usize)>,
    visited: &mut HashSet<usize>,
) {
    if !visited.insert(i) {
        return;
    }
    order.push((i, depth));
    if let Some(kids) = children.get(spans[i].span_id.as_str()) {
        for k in kids {
            visit(spans, children, *k, depth + 1, order, visited);
        }
    }
}

/// The critical path (Jaeger's rule): from a span's end back to its start, the child that
/// finished last before the cursor is on it, then the cursor moves to that child's start.
fn mark_critical(
    spans: &[SpanRow],
    children: &HashMap<&str, Vec<usize>>,
    i: usize,
    until: i64,
    out: &mut HashSet<usize>,
) {
    if !out.insert(i) {
        return;
    }
    let Some(kids) = children.get(spans[i].span_id.as_str()) else {
        return;
    };
    let mut kids = kids.clone();
    kids.sort_by_key(|k| std::cmp::Reverse(spans[*k].end_ns));
    let mut cursor = until.min(spans[i].end_ns);
    for k in kids {
        let child = &spans[k];
        // An asynchronous child may end after its parent: it is cut at the parent's end.
        let child_end = child.end_ns.min(spans[i].end_ns);
        if child.start_ns < cursor {
            mark_critical(spans, children, k, child_end.min(cursor), out);
            cursor = child.start_ns;
        }
    }
}

pub async fn one(State(state): State<Shared>, Path(trace_id): Path<String>) -> Response {
    if trace_id.len() != 32 || !trace_id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return crate::dashboard::problem(
            StatusCode::BAD_REQUEST,
            "a trace id is 32 hexadecimal digits",
        );
    }
    let store = state.store.clone();
    let id = trace_id.to_ascii_lowercase();
    let read = tokio::task::spawn_blocking(move || {
        let r = store.reader()?;
        let spans = r.trace(&id).map_err(|e| e.to_string())?;
        let logs = r
            .logs(&crate::dashboard::store::LogFilter {
                trace_id: Some(id),
                limit: 200,
                ..Default::default()
            })
            .map_err(|e| e.to_string())?;
        Ok::<_, String>((spans, logs))
    })
    .await;
    let (spans, logs) = match read {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return super::store_error(e),
        Err(e) => return super::store_error(e),
    };
    if spans.is_empty() && logs.is_empty() {
        let mut response = super::render(
            &state,
            "trace.html",
            "traces",
            minijinja::context! { trace_id, missing => true },
        );
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
    let start = spans.iter().map(|s| s.start_ns).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.end_ns).max().unwrap_or(start);
    let services: BTreeSet<String> = spans.iter().map(|s| s.service.clone()).collect();
    let errors = spans.iter().filter(|s| s.status == "error").count();
    let legend: Vec<(String, &str)> = {
        let list: Vec<String> = services.iter().cloned().collect();
        let c = colours(&list);
        list.into_iter()
            .map(|s| {
                let col = c[&s];
                (s, col)
            })
            .collect()
    };
    let bars = waterfall(spans);
    let ticks: Vec<(f64, String)> = (0..=4)
        .map(|i| {
            (
                i as f64 * 25.0,
                super::format_ms((end - start) as f64 / 1e6 * i as f64 / 4.0),
            )
        })
        .collect();
    super::render(
        &state,
        "trace.html",
        "traces",
        minijinja::context! {
            trace_id, bars, legend, errors, logs, ticks,
            start_ns => start,
            duration_ns => end - start,
            services => services.into_iter().collect::<Vec<_>>(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn span(id: &str, parent: &str, service: &str, start: i64, end: i64) -> SpanRow {
        SpanRow {
            trace_id: "t".into(),
            span_id: id.into(),
            parent_id: parent.into(),
            service: service.into(),
            name: id.into(),
            kind: "server".into(),
            start_ns: start,
            end_ns: end,
            status: "unset".into(),
            status_message: String::new(),
            attributes: BTreeMap::new(),
            events: vec![],
        }
    }

    #[test]
    fn the_waterfall_is_in_call_order_and_the_critical_path_follows_the_last_child() {
        // gateway 0–100 → order 5–95 → { product 10–30, payment 40–90 }; notification's parent
        // was never received.
        let spans = vec![
            span("pay", "ord", "payment", 40, 90),
            span("gw", "", "gateway", 0, 100),
            span("prod", "ord", "product", 10, 30),
            span("ord", "gw", "order", 5, 95),
            span("note", "missing", "notification", 92, 99),
        ];
        let bars = waterfall(spans);
        let order: Vec<(&str, usize)> = bars
            .iter()
            .map(|b| (b.span.span_id.as_str(), b.depth))
            .collect();
        assert_eq!(
            order,
            [("gw", 0), ("ord", 1), ("prod", 2), ("pay", 2), ("note", 0)]
        );
        let critical: Vec<&str> = bars
            .iter()
            .filter(|b| b.critical)
            .map(|b| b.span.span_id.as_str())
            .collect();
        assert_eq!(critical, ["gw", "ord", "prod", "pay"]);
        assert!(bars[4].orphan && !bars[0].orphan);
        assert_eq!((bars[0].left, bars[0].width), (0.0, 100.0));
        assert_ne!(bars[0].colour, bars[1].colour);
    }
}
