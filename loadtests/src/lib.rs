//! Scenarios that load the running shop stack through its gateway, as customers would.
//!
//! - [`shop`]: a small client of the shop's public API (users, products, orders,
//!   notifications) that retries what a careful client retries.
//! - [`stack`]: the stack's containers, for the faults (kill, restart) and for the checks that
//!   need a database (`docker exec … psql`), found by msctl's labels.
//! - [`faults`]: concurrent checkouts while the order service and RabbitMQ are killed and
//!   restarted, then the invariants.
//! - [`credentials`]: the admin's email and password as the stack was given them (the
//!   environment, else the project's `.env`, where `msctl up` may have generated them).
//! - [`latency`]: POST /orders → CONFIRMED percentiles at a given concurrency.
//! - [`burst`]: logins then orders at a fixed concurrency (`bench/service-memory.sh`).

pub mod burst;
pub mod credentials;
pub mod faults;
pub mod latency;
pub mod shop;
pub mod stack;

/// The value at quantile `q` (0..=1) of `sorted` (nearest rank).
pub fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(super::percentile(&v, 0.5), 50.0);
        assert_eq!(super::percentile(&v, 0.95), 95.0);
        assert_eq!(super::percentile(&v, 1.0), 100.0);
        assert_eq!(super::percentile(&[7.0], 0.95), 7.0);
    }
}
