//! Request rate, error rate and latency per service and route, scraped by msctl from the
//! services' own `/metrics` every few seconds.
//!
//! Why msctl scrapes rather than a Prometheus stand-in: the figures the pages draw are a few
//! rates and quantiles over the last minutes, which two successive scrapes give directly
//! (counter and bucket deltas); a Prometheus process would add a container, its configuration
//! kept in step with the stack, and a query API to read back — for the same numbers.
//!
//! What is read: kit's `http_requests_total{method,route,status}` and
//! `http_request_duration_seconds_bucket{method,route,le}`, the gateway's
//! `gateway_requests_total{upstream,class}` and `gateway_upstream_request_duration_seconds`,
//! and every `saga_*` / `outbox_*` series (the order saga and the outbox relays), as a rate for
//! counters and as a value for gauges.

use super::prom::{self, Sample};
use crate::dashboard::store::{PointRow, Write};
use crate::dashboard::Shared;
use crate::stack::ImageSource;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

/// One scrape of one service: counters and histogram buckets by series.
#[derive(Debug, Default, Clone)]
pub struct Scrape {
    /// series → (requests, 5xx)
    pub requests: BTreeMap<String, (f64, f64)>,
    /// series → cumulative buckets (le, count)
    pub buckets: BTreeMap<String, Vec<(f64, f64)>>,
    /// `saga_*` / `outbox_*` counters (name{labels} → value)
    pub counters: BTreeMap<String, f64>,
    pub gauges: BTreeMap<String, f64>,
}

fn series_key(s: &Sample) -> Option<String> {
    let method = s.labels.get("method").map(String::as_str).unwrap_or("");
    if let Some(route) = s.labels.get("route") {
        // Healthchecks and scrapes (msctl's own included) are not the service's traffic.
        if route.starts_with("/health/") || route == "/metrics" {
            return None;
        }
        return Some(format!("{method} {route}").trim().to_owned());
    }
    s.labels.get("upstream").map(|u| format!("→ {u}"))
}

fn labelled(s: &Sample) -> String {
    if s.labels.is_empty() {
        return s.name.clone();
    }
    let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}{{{}}}", s.name, labels.join(","))
}

/// What one exposition says.
pub fn read(text: &str) -> Scrape {
    let mut out = Scrape::default();
    for s in prom::parse(text) {
        let name = s.name.as_str();
        match name {
            "http_requests_total" | "gateway_requests_total" => {
                let Some(key) = series_key(&s) else { continue };
                let e = out.requests.entry(key).or_default();
                e.0 += s.value;
                let is_5xx = s.labels.get("status").is_some_and(|st| st.starts_with('5'))
                    || s.labels.get("class").is_some_and(|c| c == "5xx");
                if is_5xx {
                    e.1 += s.value;
                }
            }
            "http_request_duration_seconds_bucket"
            | "gateway_upstream_request_duration_seconds_bucket" => {
                let (Some(key), Some(le)) = (series_key(&s), s.labels.get("le")) else {
                    continue;
                };
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().unwrap_or(f64::NAN)
                };
                if !le.is_nan() {
                    out.buckets.entry(key).or_default().push((le, s.value));
                }
            }
            n if n.starts_with("saga_") || n.starts_with("outbox_") => {
                if n.ends_with("_total") {
                    out.counters.insert(labelled(&s), s.value);
                } else if !n.ends_with("_created") {
                    out.gauges.insert(labelled(&s), s.value);
                }
            }
            _ => {}
        }
    }
    for b in out.buckets.values_mut() {
        b.sort_by(|x, y| x.0.total_cmp(&y.0));
    }
    out
}

/// The points two scrapes `secs` apart give: per route and for the whole service (`*`).
pub fn points(
    service: &str,
    before: &Scrape,
    now: &Scrape,
    secs: f64,
    time_ms: i64,
) -> Vec<PointRow> {
    let mut out = Vec::new();
    let mut push = |series: &str, metric: &str, value: f64| {
        if value.is_finite() {
            out.push(PointRow {
                time_ms,
                service: service.to_owned(),
                series: series.to_owned(),
                metric: metric.to_owned(),
                value,
            });
        }
    };
    let (mut all, mut all_5xx) = (0.0, 0.0);
    let mut all_buckets: BTreeMap<u64, f64> = BTreeMap::new();
    for (series, (total, errors)) in &now.requests {
        let (t0, e0) = before.requests.get(series).copied().unwrap_or((0.0, 0.0));
        // A restarted service starts its counters again: a negative delta is a reset.
        let (dt, de) = if total < &t0 {
            (*total, *errors)
        } else {
            (total - t0, errors - e0)
        };
        all += dt;
        all_5xx += de;
        if dt <= 0.0 {
            continue;
        }
        push(series, "rps", dt / secs);
        push(series, "errors", de / dt);
        if let Some(delta) = bucket_delta(before.buckets.get(series), now.buckets.get(series)) {
            for (le, c) in &delta {
                *all_buckets.entry(le.to_bits()).or_default() += c;
            }
            if let Some(p) = prom::quantile(0.5, &delta) {
                push(series, "p50", p);
            }
            if let Some(p) = prom::quantile(0.95, &delta) {
                push(series, "p95", p);
            }
        }
    }
    push("*", "rps", all / secs);
    if all > 0.0 {
        push("*", "errors", all_5xx / all);
        let mut merged: Vec<(f64, f64)> = all_buckets
            .into_iter()
            .map(|(b, c)| (f64::from_bits(b), c))
            .collect();
        merged.sort_by(|x, y| x.0.total_cmp(&y.0));
        if let Some(p) = prom::quantile(0.5, &merged) {
            push("*", "p50", p);
        }
        if let Some(p) = prom::quantile(0.95, &merged) {
            push("*", "p95", p);
        }
    }
    for (name, value) in &now.counters {
        let before = before.counters.get(name).copied().unwrap_or(0.0);
        let delta = if *value < before {
            *value
        } else {
            value - before
        };
        push(name, "rate", delta / secs);
    }
    for (name, value) in &now.gauges {
        push(name, "value", *value);
    }
    out
}

fn bucket_delta(
    before: Option<&Vec<(f64, f64)>>,
    now: Option<&Vec<(f64, f64)>>,
) -> Option<Vec<(f64, f64)>> {
    let now = now?;
    let before: HashMap<u64, f64> = before
        .map(|b| b.iter().map(|(le, c)| (le.to_bits(), *c)).collect())
        .unwrap_or_default();
    let delta: Vec<(f64, f64)> = now
        .iter()
        .map(|(le, c)| (*le, c - before.get(&le.to_bits()).copied().unwrap_or(0.0)))
        .collect();
    if delta.iter().any(|(_, c)| *c < 0.0) {
        return Some(now.clone());
    }
    Some(delta)
}

/// Scrapes every workspace service every `every` until aborted.
pub async fn scrape(state: Shared, every: Duration) {
    // Workspace services, on the port their routes name (a service that publishes none is
    // found on the project network); others are asked on their published or exposed port.
    let services: Vec<(String, Option<u16>)> = state
        .stack
        .services
        .iter()
        .filter(|s| !matches!(s.image, ImageSource::Reference(_)))
        .map(|s| (s.name.clone(), state.stack.http_port(&s.name)))
        .collect();
    let targets = crate::testing::targets::Targets::new(
        state.stack.name.clone(),
        state.docker.clone(),
        HashMap::new(),
        None,
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .expect("an HTTP client");
    let mut last: HashMap<String, (Instant, Scrape)> = HashMap::new();
    loop {
        let mut rows = Vec::new();
        for (service, port) in &services {
            let base = match port {
                Some(p) => targets
                    .address(service, *p)
                    .await
                    .map(|a| format!("http://{a}")),
                None => targets.http(service).await,
            };
            let Ok(base) = base else { continue };
            let Ok(response) = client.get(format!("{base}/metrics")).send().await else {
                continue;
            };
            let Ok(text) = response.text().await else {
                continue;
            };
            let now = read(&text);
            let at = Instant::now();
            if let Some((then, before)) = last.get(service) {
                let secs = at.duration_since(*then).as_secs_f64().max(0.001);
                rows.extend(points(
                    service,
                    before,
                    &now,
                    secs,
                    crate::dashboard::now_ms(),
                ));
            }
            last.insert(service.clone(), (at, now));
        }
        if !rows.is_empty() {
            let store = state.store.clone();
            let _ = tokio::task::spawn_blocking(move || store.send(Write::Points(rows))).await;
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str =
        "http_requests_total{method=\"GET\",route=\"/products\",status=\"200\"} 100\n\
        http_request_duration_seconds_bucket{method=\"GET\",route=\"/products\",le=\"0.01\"} 90\n\
        http_request_duration_seconds_bucket{method=\"GET\",route=\"/products\",le=\"0.02\"} 100\n\
        http_request_duration_seconds_bucket{method=\"GET\",route=\"/products\",le=\"+Inf\"} 100\n\
        saga_orders_total{outcome=\"confirmed\"} 5\n";
    const NOW: &str =
        "http_requests_total{method=\"GET\",route=\"/products\",status=\"200\"} 180\n\
        http_requests_total{method=\"GET\",route=\"/health/ready\",status=\"200\"} 999\n\
        http_requests_total{method=\"GET\",route=\"/products\",status=\"503\"} 20\n\
        http_request_duration_seconds_bucket{method=\"GET\",route=\"/products\",le=\"0.01\"} 140\n\
        http_request_duration_seconds_bucket{method=\"GET\",route=\"/products\",le=\"0.02\"} 200\n\
        http_request_duration_seconds_bucket{method=\"GET\",route=\"/products\",le=\"+Inf\"} 200\n\
        saga_orders_total{outcome=\"confirmed\"} 15\n";

    #[test]
    fn two_scrapes_give_rate_errors_and_quantiles_of_the_interval() {
        let points = points("product-service", &read(BEFORE), &read(NOW), 10.0, 1);
        let get = |series: &str, metric: &str| {
            points
                .iter()
                .find(|p| p.series == series && p.metric == metric)
                .map(|p| p.value)
                .unwrap_or_else(|| panic!("{series} {metric} in {points:?}"))
        };
        assert_eq!(get("GET /products", "rps"), 10.0);
        assert_eq!(get("GET /products", "errors"), 0.2);
        // 100 requests in the interval: 50 under 10 ms, 50 between 10 and 20 ms.
        assert!((get("GET /products", "p50") - 0.01).abs() < 1e-9);
        assert!((get("GET /products", "p95") - 0.019).abs() < 1e-9);
        assert_eq!(get("*", "rps"), 10.0, "probes are not traffic");
        assert!(points.iter().all(|p| !p.series.contains("/health")));
        assert_eq!(get("saga_orders_total{outcome=confirmed}", "rate"), 1.0);
    }
}
