//! Where the stack's services send their telemetry: to `msctl dashboard`, by a name every
//! container resolves to the engine's host gateway.
//!
//! `msctl up` gives each service msctl builds `OTEL_EXPORTER_OTLP_ENDPOINT=
//! http://msctl-dashboard:PORT` and an `extra_hosts` entry `msctl-dashboard:host-gateway`,
//! whether or not a dashboard runs: started later, it is heard at once, with no container
//! recreated. Without one the services' exports fail quietly (the kit silences the exporter's
//! own errors) and nothing else changes. A stack file that sets the variable keeps its value.

/// The host name the services reach the dashboard by.
pub const DASHBOARD_HOST: &str = "msctl-dashboard";

/// The dashboard's port unless `MSCTL_DASHBOARD_PORT` says otherwise.
pub const DEFAULT_PORT: u16 = 18888;

pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The batch exporter's pause between exports: the SDK's default (5 s) makes a request show
/// in the dashboard seconds after it was made; a local collector can take a batch a second.
pub const SCHEDULE_DELAY_VAR: &str = "OTEL_BSP_SCHEDULE_DELAY";
pub const SCHEDULE_DELAY_MS: &str = "1000";

/// `MSCTL_DASHBOARD_PORT`, else [`DEFAULT_PORT`]: the port `up` points exporters at and the
/// dashboard listens on.
pub fn port() -> u16 {
    std::env::var("MSCTL_DASHBOARD_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_PORT)
}

/// The endpoint a service's exporter is given.
pub fn endpoint() -> String {
    format!("http://{DASHBOARD_HOST}:{}", port())
}

/// The `extra_hosts` entry that makes [`DASHBOARD_HOST`] the engine's host gateway.
pub fn extra_host() -> String {
    format!("{DASHBOARD_HOST}:host-gateway")
}
