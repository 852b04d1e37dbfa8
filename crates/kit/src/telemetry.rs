//! Logs and spans. Logs are JSON lines on stdout with the request span's fields (request id,
//! trace id) on every line. With `OTEL_EXPORTER_OTLP_ENDPOINT` set, spans are also exported over
//! OTLP/HTTP, parented on the incoming `traceparent` (`trace::link_parent`), and their own ids
//! are the ones passed on (`trace::exported_context`), so the services' spans form one trace;
//! without it nothing is exported.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

/// Whether spans are exported: set by [`init`] once the OTLP layer is installed.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Whether request and work spans are exported over OTLP. One relaxed load: `trace` asks it per
/// request, to skip what only the exported span needs (its name, kind, status) when off.
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

/// The default filter when `RUST_LOG` is not set. The OpenTelemetry crates log their own
/// failures through `tracing` under their package names (`otel_error!` and friends use
/// `env!("CARGO_PKG_NAME")` as the target: `opentelemetry`, `opentelemetry_sdk`,
/// `opentelemetry-otlp`, `opentelemetry-http`). msctl always points the services at its
/// dashboard's collector, which may not be running: every batch would then log
/// "BatchSpanProcessor.ExportError" at ERROR, drowning the service's own lines. Losing spans
/// nobody collects is not the service's error, so they are off by default (`opentelemetry`
/// alone would match them all, targets match by prefix; the others are spelled out for
/// whoever greps for them). With RUST_LOG set, its directives apply as given.
const DEFAULT_FILTER: &str =
    "info,opentelemetry=off,opentelemetry_sdk=off,opentelemetry-otlp=off,opentelemetry_otlp=off,opentelemetry-http=off";

/// Flushes exported spans on drop; keep it alive for the life of `main`.
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            // A shut-down provider makes invalid (unexported) spans: the ids go back to the
            // kit's own.
            EXPORTING.store(false, Ordering::Relaxed);
            let _ = provider.shutdown();
        }
    }
}

/// The target of a probe's request span (`/health/*`, `/metrics`; `trace::is_probe`): logged
/// like any request, never exported (the OpenTelemetry layer below filters it out).
pub const PROBE_TARGET: &str = "kit::probe";

/// Installs the global subscriber. Call once, at the start of `main`.
pub fn init(service: &'static str) -> Telemetry {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let fmt = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false);
    let provider = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
        .and_then(|_| match otlp_provider(service) {
            Ok(p) => Some(p),
            Err(e) => {
                eprintln!("{{\"level\":\"WARN\",\"message\":\"OTLP export disabled: {e}\"}}");
                None
            }
        });
    // Probes (healthchecks every second, metrics scrapes) are not exported: they would be most
    // of a quiet stack's traces and tell nothing (PROBE_TARGET).
    let otel = provider.as_ref().map(|p| {
        use tracing_subscriber::Layer as _;
        tracing_opentelemetry::layer()
            .with_tracer(p.tracer(service))
            .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                m.target() != PROBE_TARGET
            }))
    });
    let installed = tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()
        .is_ok();
    // Only when our OTLP layer is the one installed (a subscriber set before us has none).
    if installed && provider.is_some() {
        EXPORTING.store(true, Ordering::Relaxed);
    }
    if provider.is_some() {
        opentelemetry::global::set_text_map_propagator(
            opentelemetry_sdk::propagation::TraceContextPropagator::new(),
        );
    }
    Telemetry { provider }
}

fn otlp_provider(service: &'static str) -> Result<SdkTracerProvider, String> {
    // The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT itself (and appends /v1/traces). The batch
    // processor exports from its own thread, outside any Tokio runtime, hence reqwest's
    // blocking client (the async one panics there; tests/otlp.rs pins this). So `init` must run
    // before the service's runtime starts, as `serve::main` does.
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| e.to_string())?;
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service)
        .build();
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource)
        .build())
}
