//! The live progress line of a load run: users started, requests/s and p95 over the last few
//! seconds, failures so far.
//!
//! Every user's transport records into [`Live`] (a lock held for one push per request); a
//! ticker drains it twice a second into a short window, so the figures follow the run as it
//! is now rather than its average since the start.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// How often the line is redrawn, and how many ticks its window spans (5 s).
pub const TICK: Duration = Duration::from_millis(500);
const WINDOW_TICKS: usize = 10;

/// What the users report while they run.
#[derive(Default)]
pub struct Live {
    users: AtomicUsize,
    requests: AtomicUsize,
    failed: AtomicUsize,
    /// Response times (µs) since the last tick.
    fresh: Mutex<Vec<u64>>,
}

impl Live {
    /// A request's response time, from user `user` (goose's index, counting from 0).
    pub fn request(&self, user: usize, micros: u64) {
        self.users.fetch_max(user + 1, Ordering::Relaxed);
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.fresh.lock().expect("lock").push(micros);
    }

    pub fn failure(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }
}

/// The ticker's side: the last [`WINDOW_TICKS`] ticks of response times.
pub struct Window {
    ticks: VecDeque<Vec<u64>>,
}

/// One reading of the line.
#[derive(Debug, PartialEq)]
pub struct Reading {
    pub users: usize,
    pub rps: f64,
    pub p95_ms: Option<f64>,
    pub requests: usize,
    pub failed: usize,
}

impl Default for Window {
    fn default() -> Self {
        Window {
            ticks: VecDeque::with_capacity(WINDOW_TICKS),
        }
    }
}

impl Window {
    /// Takes what came in since the last tick; `tick` is the time between two calls.
    pub fn tick(&mut self, live: &Live, tick: Duration) -> Reading {
        let fresh = std::mem::take(&mut *live.fresh.lock().expect("lock"));
        if self.ticks.len() == WINDOW_TICKS {
            self.ticks.pop_front();
        }
        self.ticks.push_back(fresh);
        let mut all: Vec<u64> = self.ticks.iter().flatten().copied().collect();
        all.sort_unstable();
        let p95_ms = (!all.is_empty()).then(|| {
            let at = ((all.len() as f64 * 0.95).ceil() as usize).clamp(1, all.len()) - 1;
            all[at] as f64 / 1000.0
        });
        let seconds = tick.as_secs_f64() * self.ticks.len() as f64;
        Reading {
            users: live.users.load(Ordering::Relaxed),
            rps: all.len() as f64 / seconds.max(f64::EPSILON),
            p95_ms,
            requests: live.requests.load(Ordering::Relaxed),
            failed: live.failed.load(Ordering::Relaxed),
        }
    }
}

impl Reading {
    /// `7/10 users · 412 req/s · p95 23.1 ms · 3 failed of 4120`
    pub fn line(&self, users: usize) -> String {
        let p95 = self
            .p95_ms
            .map(|ms| format!("p95 {ms:.1} ms"))
            .unwrap_or_else(|| "p95 –".into());
        format!(
            "{}/{users} users · {:.0} req/s · {p95} · {} failed of {}",
            self.users, self.rps, self.failed, self.requests
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_forgets_requests_older_than_its_ticks() {
        let live = Live::default();
        let mut window = Window::default();
        for _ in 0..100 {
            live.request(0, 50_000);
        }
        let first = window.tick(&live, Duration::from_secs(1));
        assert_eq!(first.rps, 100.0);
        assert_eq!(first.p95_ms, Some(50.0));
        // Ten quiet ticks later the slow burst is out of the window; the totals stay.
        for _ in 0..WINDOW_TICKS {
            live.request(3, 1_000);
            window.tick(&live, Duration::from_secs(1));
        }
        let now = window.tick(&live, Duration::from_secs(1));
        assert_eq!(now.p95_ms, Some(1.0));
        assert_eq!(now.users, 4);
        assert_eq!(now.requests, 110);
    }

    #[test]
    fn p95_is_the_value_under_which_95_percent_fall() {
        let live = Live::default();
        for ms in 1..=100 {
            live.request(0, ms * 1000);
        }
        live.failure();
        let r = Window::default().tick(&live, Duration::from_millis(500));
        assert_eq!(r.p95_ms, Some(95.0));
        assert_eq!(r.rps, 200.0);
        assert_eq!(
            r.line(10),
            "1/10 users · 200 req/s · p95 95.0 ms · 1 failed of 100"
        );
    }
}
