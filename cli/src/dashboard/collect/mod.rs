//! What the dashboard gathers itself: log lines from the engine ([`logs`]) and Prometheus
//! metrics scraped from the services ([`metrics`], [`prom`]).

pub mod logs;
pub mod metrics;
pub mod prom;
