//! A circuit breaker per upstream, judging the upstream's health by its failure *rate*.
//!
//! Closed: requests pass; every outcome is counted in a sliding window (`window`, in ten
//! buckets). When the window holds at least `min_calls` outcomes and `failure_rate` percent or
//! more of them failed, the circuit opens. (Issue #12: with "five consecutive failures", five
//! bad requests from one anonymous client opened it for everyone; now a handful of failures
//! among good calls never does, and a quiet upstream is not judged on a few calls. The models
//! are resilience4j's sliding window with `minimumNumberOfCalls` and Envoy's outlier detection.)
//! Open: requests fail fast for `cooldown`, then the next request moves it to half-open.
//! Half-open: up to `trials` requests are admitted; when they have all succeeded it closes (with
//! an empty window), and any failure opens it again.
//!
//! The closed state, which is where a healthy gateway spends its life, takes no lock: admission
//! is one atomic load, an outcome two or three more. The window's counts are approximate under
//! races (a bucket being recycled may lose a count), which a rate does not notice. Outcomes are
//! tagged with the generation (state change count) they were admitted in, so a slow request
//! admitted before a transition cannot move the new state.

use prometheus_client::metrics::gauge::Gauge;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering::SeqCst};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const CLOSED: u8 = 0;
pub const OPEN: u8 = 1;
pub const HALF_OPEN: u8 = 2;

/// Buckets of the sliding window: the window slides in steps of a tenth.
const BUCKETS: usize = 10;

/// When a circuit opens.
#[derive(Debug, Clone, Copy)]
pub struct Trip {
    /// The sliding window the failure rate is measured over.
    pub window: Duration,
    /// Outcomes the window must hold before the rate is judged.
    pub min_calls: u32,
    /// Failed share, in percent, that opens the circuit.
    pub failure_rate: u32,
}

struct Bucket {
    /// Which step of time this bucket counts (`elapsed / bucket length`); 0 = never used.
    step: AtomicU64,
    calls: AtomicU32,
    failures: AtomicU32,
}

/// Outcomes over the last `window`, in [`BUCKETS`] buckets.
struct Window {
    started: Instant,
    bucket_ms: u64,
    buckets: [Bucket; BUCKETS],
}

impl Window {
    fn new(window: Duration) -> Window {
        Window {
            started: Instant::now(),
            bucket_ms: (window.as_millis() as u64 / BUCKETS as u64).max(1),
            buckets: std::array::from_fn(|_| Bucket {
                step: AtomicU64::new(0),
                calls: AtomicU32::new(0),
                failures: AtomicU32::new(0),
            }),
        }
    }

    fn step(&self) -> u64 {
        // Steps count from 1, so 0 marks a bucket never used.
        self.started.elapsed().as_millis() as u64 / self.bucket_ms + 1
    }

    fn record(&self, failed: bool) {
        let step = self.step();
        let bucket = &self.buckets[step as usize % BUCKETS];
        let seen = bucket.step.load(SeqCst);
        if seen != step
            && bucket
                .step
                .compare_exchange(seen, step, SeqCst, SeqCst)
                .is_ok()
        {
            bucket.calls.store(0, SeqCst);
            bucket.failures.store(0, SeqCst);
        }
        bucket.calls.fetch_add(1, SeqCst);
        if failed {
            bucket.failures.fetch_add(1, SeqCst);
        }
    }

    /// (calls, failures) over the window.
    fn totals(&self) -> (u32, u32) {
        let now = self.step();
        self.buckets
            .iter()
            .filter(|b| {
                let step = b.step.load(SeqCst);
                step != 0 && step + (BUCKETS as u64) > now
            })
            .fold((0, 0), |(c, f), b| {
                (c + b.calls.load(SeqCst), f + b.failures.load(SeqCst))
            })
    }

    fn clear(&self) {
        for b in &self.buckets {
            b.step.store(0, SeqCst);
            b.calls.store(0, SeqCst);
            b.failures.store(0, SeqCst);
        }
    }
}

pub struct Breaker {
    trip: Trip,
    cooldown: Duration,
    trials: u32,
    state: AtomicU8,
    generation: AtomicU64,
    window: Window,
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
    pub fn new(trip: Trip, cooldown: Duration, trials: u32, gauge: Gauge) -> Breaker {
        gauge.set(CLOSED as i64);
        Breaker {
            trip: Trip {
                min_calls: trip.min_calls.max(1),
                failure_rate: trip.failure_rate.clamp(1, 100),
                ..trip
            },
            cooldown,
            trials: trials.max(1),
            state: AtomicU8::new(CLOSED),
            generation: AtomicU64::new(0),
            window: Window::new(trip.window),
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
        self.window.clear();
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
            CLOSED if self.current(generation) => self.window.record(false),
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
            CLOSED if self.current(generation) && self.tripped() => {
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

    /// Records a failure while closed and says whether the window now opens the circuit.
    fn tripped(&self) -> bool {
        self.window.record(true);
        let (calls, failures) = self.window.totals();
        calls >= self.trip.min_calls
            && u64::from(failures) * 100 >= u64::from(self.trip.failure_rate) * u64::from(calls)
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

    const TRIP: Trip = Trip {
        window: Duration::from_secs(10),
        min_calls: 20,
        failure_rate: 50,
    };

    fn breaker(cooldown_ms: u64) -> Breaker {
        Breaker::new(
            TRIP,
            Duration::from_millis(cooldown_ms),
            3,
            Gauge::default(),
        )
    }

    fn open(b: &Breaker) {
        for _ in 0..TRIP.min_calls {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), OPEN);
    }

    #[test]
    fn a_handful_of_failures_among_successes_never_opens_it() {
        let b = breaker(10_000);
        for round in 0..50 {
            for _ in 0..10 {
                b.acquire().unwrap().success();
            }
            for _ in 0..5 {
                b.acquire().unwrap().failure();
            }
            assert_eq!(b.state(), CLOSED, "round {round}");
        }
    }

    #[test]
    fn too_few_calls_are_not_judged() {
        let b = breaker(10_000);
        for _ in 0..TRIP.min_calls - 1 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), CLOSED, "19 failures are not yet a rate");
        b.acquire().unwrap().failure();
        assert_eq!(b.state(), OPEN);
        let wait = b.acquire().err().expect("open circuit rejects");
        assert!(wait > Duration::from_secs(9), "{wait:?}");
        assert_eq!(b.gauge.get(), 1);
    }

    #[test]
    fn the_rate_opens_it_when_it_reaches_the_threshold() {
        let b = breaker(10_000);
        for _ in 0..15 {
            b.acquire().unwrap().success();
        }
        for _ in 0..14 {
            b.acquire().unwrap().failure();
        }
        assert_eq!(b.state(), CLOSED, "14 of 29 is under half");
        b.acquire().unwrap().failure();
        assert_eq!(b.state(), OPEN, "15 of 30 is half");
    }

    #[test]
    fn old_outcomes_slide_out_of_the_window() {
        let trip = Trip {
            window: Duration::from_millis(200),
            ..TRIP
        };
        let b = Breaker::new(trip, Duration::from_secs(10), 3, Gauge::default());
        for _ in 0..19 {
            b.acquire().unwrap().failure();
        }
        std::thread::sleep(Duration::from_millis(250));
        b.acquire().unwrap().failure();
        assert_eq!(
            b.state(),
            CLOSED,
            "the 19 earlier failures are out of the window"
        );
    }

    #[test]
    fn half_open_admits_trials_then_closes_with_an_empty_window() {
        let b = breaker(20);
        open(&b);
        std::thread::sleep(Duration::from_millis(30));
        let trials: Vec<_> = (0..3).map(|_| b.acquire().unwrap()).collect();
        assert_eq!(b.state(), HALF_OPEN);
        assert!(b.acquire().is_err(), "a fourth concurrent trial is refused");
        for t in trials {
            t.success();
        }
        assert_eq!(b.state(), CLOSED);
        assert_eq!(b.gauge.get(), 0);
        b.acquire().unwrap().failure();
        assert_eq!(
            b.state(),
            CLOSED,
            "the failures that opened it are forgotten"
        );
    }

    #[test]
    fn a_failed_trial_reopens_and_abandoned_trials_free_their_slot() {
        let b = breaker(20);
        open(&b);
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
        open(&b);
        std::thread::sleep(Duration::from_millis(30));
        let trial = b.acquire().unwrap();
        slow.failure(); // admitted while closed: does not reopen the half-open circuit
        assert_eq!(b.state(), HALF_OPEN);
        trial.success();
    }
}
