//! Metrics: per service, request rate, error rate and p50/p95 over the last minutes as charts
//! (inline SVG), the routes' latest figures, and the saga and outbox series.

use crate::dashboard::store::PointRow;
use crate::dashboard::Shared;
use axum::extract::State;
use axum::response::Response;
use serde::Serialize;
use std::collections::BTreeMap;

/// Minutes of history drawn.
const WINDOW_MIN: i64 = 15;
const CHART_W: f64 = 300.0;
const CHART_H: f64 = 80.0;

#[derive(Debug, Serialize)]
pub struct Chart {
    title: String,
    /// One polyline per line (label, colour, points "x,y x,y").
    lines: Vec<(String, &'static str, String)>,
    latest: String,
    max: String,
}

#[derive(Debug, Serialize)]
pub struct ServiceCharts {
    service: String,
    charts: Vec<Chart>,
    routes: Vec<RouteRow>,
}

#[derive(Debug, Serialize)]
pub struct RouteRow {
    series: String,
    rps: String,
    errors: String,
    p50: String,
    p95: String,
}

fn chart(
    title: &str,
    lines: Vec<(&str, &'static str, Vec<(i64, f64)>)>,
    from: i64,
    to: i64,
    unit: fn(f64) -> String,
) -> Chart {
    let max = lines
        .iter()
        .flat_map(|l| l.2.iter().map(|p| p.1))
        .fold(0.0f64, f64::max);
    let top = if max > 0.0 { max * 1.1 } else { 1.0 };
    let span = (to - from).max(1) as f64;
    let latest = lines
        .first()
        .and_then(|l| l.2.last())
        .map(|p| unit(p.1))
        .unwrap_or_else(|| "–".into());
    Chart {
        title: title.to_owned(),
        lines: lines
            .into_iter()
            .map(|(label, colour, points)| {
                let path = points
                    .iter()
                    .map(|(t, v)| {
                        format!(
                            "{:.1},{:.1}",
                            (t - from) as f64 / span * CHART_W,
                            CHART_H - v / top * CHART_H
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                (label.to_owned(), colour, path)
            })
            .collect(),
        latest,
        max: unit(max),
    }
}

fn per_second(v: f64) -> String {
    format!("{v:.1}/s")
}
fn percent(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}
fn seconds(v: f64) -> String {
    super::format_ms(v * 1000.0)
}
fn plain(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

/// The charts of every service with points, and the saga/outbox series apart.
pub fn build(points: &[PointRow], from: i64, to: i64) -> (Vec<ServiceCharts>, Vec<Chart>) {
    // service → series → metric → points
    let mut by: BTreeMap<&str, BTreeMap<&str, BTreeMap<&str, Vec<(i64, f64)>>>> = BTreeMap::new();
    for p in points {
        by.entry(&p.service)
            .or_default()
            .entry(&p.series)
            .or_default()
            .entry(&p.metric)
            .or_default()
            .push((p.time_ms, p.value));
    }
    let mut services = Vec::new();
    let mut business = Vec::new();
    for (service, series) in &by {
        let get = |s: &str, m: &str| {
            series
                .get(s)
                .and_then(|x| x.get(m))
                .cloned()
                .unwrap_or_default()
        };
        let charts = vec![
            chart(
                "requests",
                vec![("rate", "#4e79a7", get("*", "rps"))],
                from,
                to,
                per_second,
            ),
            chart(
                "errors (5xx)",
                vec![("share", "#e15759", get("*", "errors"))],
                from,
                to,
                percent,
            ),
            chart(
                "latency",
                vec![
                    ("p50", "#59a14f", get("*", "p50")),
                    ("p95", "#f28e2b", get("*", "p95")),
                ],
                from,
                to,
                seconds,
            ),
        ];
        let last = |s: &str, m: &str, f: fn(f64) -> String| {
            series
                .get(s)
                .and_then(|x| x.get(m))
                .and_then(|v| v.last())
                .map(|p| f(p.1))
                .unwrap_or_else(|| "–".into())
        };
        let routes = series
            .keys()
            .filter(|s| **s != "*" && !s.starts_with("saga_") && !s.starts_with("outbox_"))
            .map(|s| RouteRow {
                series: s.to_string(),
                rps: last(s, "rps", per_second),
                errors: last(s, "errors", percent),
                p50: last(s, "p50", seconds),
                p95: last(s, "p95", seconds),
            })
            .collect();
        for (name, metrics) in series
            .iter()
            .filter(|(s, _)| s.starts_with("saga_") || s.starts_with("outbox_"))
        {
            for (metric, pts) in metrics {
                let unit: fn(f64) -> String = if *metric == "rate" { per_second } else { plain };
                business.push(chart(
                    &format!("{service}: {name}"),
                    vec![(metric, "#b07aa1", pts.clone())],
                    from,
                    to,
                    unit,
                ));
            }
        }
        services.push(ServiceCharts {
            service: service.to_string(),
            charts,
            routes,
        });
    }
    (services, business)
}

pub async fn page(State(state): State<Shared>) -> Response {
    let to = crate::dashboard::now_ms();
    let from = to - WINDOW_MIN * 60_000;
    let store = state.store.clone();
    let read = tokio::task::spawn_blocking(move || {
        store.reader()?.points(from).map_err(|e| e.to_string())
    })
    .await;
    let points = match read {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => return super::store_error(e),
        Err(e) => return super::store_error(e),
    };
    let (services, business) = build(&points, from, to);
    super::render(
        &state,
        "metrics.html",
        "metrics",
        minijinja::context! {
            services, business, window => WINDOW_MIN,
            chart_w => CHART_W, chart_h => CHART_H,
        },
    )
}
