//! A circuit breaker per upstream.
//!
//! Closed: requests pass; `failure_threshold` consecutive failures open it. Open: requests fail
//! fast for `cooldown`, then the next request moves it to half-open. Half-open: up to `trials`
//! requests are admitted; when they have all succeeded it closes, and any failure opens it again.
//!
//! The closed state, which is where a healthy gateway spends its life, takes no lock: admission
//! is one atomic load and a success one more. Outcomes are tagged with the generation (state
//! change count) they were admitted in, so a slow request admitted before a transition cannot
//! move the new state.

use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const CLOSED: u8 = 0;
pub const OPEN: u8 = 1;
pub const HALF_OPEN: u8 = 2;

pub struct Breaker {
    threshold: u32,
    cooldown: Duration,
    trials: u32,
    state: AtomicU8,
    generation: AtomicU64,
    /// Consecutive failures while closed.
    failures: AtomicU32,
    inner: Mutex<Inner>,
    gauge: Gauge,
}

struct Inner {
    opened_at: Instant,
    admitted: u32,
    succeeded: u32,
}

/// Admission of one request; report its outcome with [`Permit::success`] or
/// [`Permit::failure`]. Dropped without either (the client went away), it gives its half-open
/// trial slot back.
pub struct Permit<'a> {
    breaker: &'a Breaker,
    generation: u64,
    reported: bool,
}

impl Breaker {
    /// `gauge` shows the state: 0 closed, 1 open, 2 half-open.
    pub fn new(threshold: u32, cooldown: Duration, trials: u32, gauge: Gauge) -> Breaker {
        gauge.set(CLOSED as i64);
        Breaker {
            threshold: threshold.max(1),
            cooldown,
            trials: trials.max(1),
            state: AtomicU8::new(CLOSED),
            generation: AtomicU64::new(0),
            failures: AtomicU32::new(0),
            inner: Mutex::new(Inner {
                opened_at: Instant::now(),
                admitted: 0,
                succeeded: 0,
            }),
            gauge,
        }
    }

    pub fn state(&self) -> u8 {
        self.state.load(SeqCst)
    }

    /// Admits a request, or says how long until the circuit may admit one.
    pub fn acquire(&self) -> Result<Permit<'_>, Duration> {
        let generation = self.generation.load(SeqCst);
        if self.state.load(SeqCst) == CLOSED {
            return Ok(self.permit(generation));
        }
        let mut inner = self.inner.lock().expect("breaker lock");
        match self.state.load(SeqCst) {
            CLOSED => Ok(self.permit(self.generation.load(SeqCst))),
            OPEN => {
                let elapsed = inner.opened_at.elapsed();
                if elapsed < self.cooldown {
                    return Err(self.cooldown - elapsed);
                }
                self.transition(HALF_OPEN);
                inner.admitted = 1;
                inner.succeeded = 0;
                Ok(self.permit(self.generation.load(SeqCst)))
            }
            _ => {
                if inner.admitted < self.trials {
                    inner.admitted += 1;
                    Ok(self.permit(self.generation.load(SeqCst)))
                } else {
                    // Every trial slot is taken; they finish within a request timeout.
                    Err(Duration::from_secs(1))
                }
            }
        }
    }

    fn permit(&self, generation: u64) -> Permit<'_> {
        Permit {
            breaker: self,
            generation,
            reported: false,
        }
    }

    /// Call with the lock held.
    fn transition(&self, to: u8) {
        self.generation.fetch_add(1, SeqCst);
        self.failures.store(0, SeqCst);
        self.state.store(to, SeqCst);
        self.gauge.set(to as i64);
        match to {
            OPEN => tracing::warn!("circuit opened"),
            HALF_OPEN => tracing::info!("circuit half-open: admitting trial requests"),
            _ => tracing::info!("circuit closed"),
        }
    }

    fn current(&self, generation: u64) -> bool {
        self.generation.load(SeqCst) == generation
    }

    fn on_success(&self, generation: u64) {
        match self.state.load(SeqCst) {
            // A store only when needed: the common case is a read-only cache line.
            CLOSED if self.failures.load(SeqCst) != 0 => self.failures.store(0, SeqCst),
            HALF_OPEN => {
                let mut inner = self.inner.lock().expect("breaker lock");
                if self.state.load(SeqCst) == HALF_OPEN && self.current(generation) {
                    inner.succeeded += 1;
                    if inner.succeeded >= self.trials {
                        self.transition(CLOSED);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_failure(&self, generation: u64) {
        match self.state.load(SeqCst) {
            CLOSED
                if self.current(generation)
                    && self.failures.fetch_add(1, SeqCst) + 1 >= self.threshold =>
            {
                let mut inner = self.inner.lock().expect("breaker lock");
                if self.state.load(SeqCst) == CLOSED && self.current(generation) {
                    inner.opened_at = Instant::now();
                    self.transition(OPEN);
                }
            }
            HALF_OPEN => {
                let mut inner = self.inner.lock().expect("breaker lock");
                if self.state.load(SeqCst) == HALF_OPEN && self.current(generation) {
                    inner.opened_at = Instant::now();
                    self.transition(OPEN);
                }
            }
            _ => {}
        }
    }

    fn on_cancel(&self, generation: u64) {
        if self.state.load(SeqCst) == HALF_OPEN {
            let mut inner = self.inner.lock().expect("breaker lock");
            if self.state.load(SeqCst) == HALF_OPEN && self.current(generation) {
                inner.admitted = inner.admitted.saturating_sub(1);
            }
        }
    }
}

impl Permit<'_> {
    pub fn success(mut self) {
        self.reported = true;
        self.breaker.on_success(self.generation);
    }

    pub fn failure(mut self) {
        self.reported = true;
        self.breaker.on_failure(self.generation);
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if !self.reported {
            self.breaker.on_cancel(self.generation);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker(cooldown_ms: u64) -> Breaker {
        Breaker::new(5, Duration::from_millis(cooldown_ms), 3, Gauge::default())
    }

    #[test]
    fn opens_after_consecutive_failures_only() {
        let b = breaker(10_000);
        for _ in 0..4 {
            b.acquire().unwrap().failure();
        }
        b.acquire().unwrap().success();
        for _ in 0..4 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), CLOSED);
        b.acquire().unwrap().failure();
        assert_eq!(b.state(), OPEN);
        let wait = b.acquire().err().expect("open circuit rejects");
        assert!(wait > Duration::from_secs(9), "{wait:?}");
        assert_eq!(b.gauge.get(), 1);
    }

    #[test]
    fn half_open_admits_trials_then_closes() {
        let b = breaker(20);
        for _ in 0..5 {
            b.acquire().unwrap().failure();
        }
        std::thread::sleep(Duration::from_millis(30));
        let trials: Vec<_> = (0..3).map(|_| b.acquire().unwrap()).collect();
        assert_eq!(b.state(), HALF_OPEN);
        assert!(b.acquire().is_err(), "a fourth concurrent trial is refused");
        for t in trials {
            t.success();
        }
        assert_eq!(b.state(), CLOSED);
        assert_eq!(b.gauge.get(), 0);
    }

    #[test]
    fn a_failed_trial_reopens_and_abandoned_trials_free_their_slot() {
        let b = breaker(20);
        for _ in 0..5 {
            b.acquire().unwrap().failure();
        }
        std::thread::sleep(Duration::from_millis(30));
        drop(b.acquire().unwrap());
        let t: Vec<_> = (0..3).map(|_| b.acquire().unwrap()).collect();
        let mut t = t.into_iter();
        t.next().unwrap().failure();
        assert_eq!(b.state(), OPEN);
        // Outcomes of trials admitted before the circuit reopened change nothing.
        t.next().unwrap().success();
        t.next().unwrap().success();
        assert_eq!(b.state(), OPEN);
        assert!(b.acquire().is_err());
    }

    #[test]
    fn stale_outcomes_are_ignored() {
        let b = breaker(20);
        let slow = b.acquire().unwrap();
        for _ in 0..5 {
            b.acquire().unwrap().failure();
        }
        std::thread::sleep(Duration::from_millis(30));
        let trial = b.acquire().unwrap();
        slow.failure(); // admitted while closed: does not reopen the half-open circuit
        assert_eq!(b.state(), HALF_OPEN);
        trial.success();
    }
}
