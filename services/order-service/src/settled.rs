//! Waiting for an order's saga to settle without polling the database: the saga announces each
//! outcome it commits, and requests waiting on that order (`GET /orders/{id}?wait=`, a user's
//! cancellation) wake at once.
//!
//! An announcement only reaches waiters in this process. A waiter therefore also re-reads the
//! order every [`RECHECK`], which covers an outcome committed by another replica (or by the
//! sweeper after this process took over a crashed worker's order).

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use uuid::Uuid;

pub const RECHECK: Duration = Duration::from_secs(1);

#[derive(Clone, Default)]
pub struct Settled {
    waiting: Arc<Mutex<HashMap<Uuid, Arc<Notify>>>>,
}

impl Settled {
    /// Wakes whoever waits on `order_id`; called after the outcome is committed.
    pub fn announce(&self, order_id: Uuid) {
        let waiting = self.waiting.lock().expect("settled waiters lock");
        if let Some(notify) = waiting.get(&order_id) {
            notify.notify_waiters();
        }
    }

    /// Reads the order with `read` until `done` says so or `deadline` passes, and returns the
    /// last read. The waiter is registered before each read, so an announcement between the
    /// read and the wait is not lost.
    pub async fn until<T, E, R, F>(
        &self,
        order_id: Uuid,
        deadline: Instant,
        mut read: R,
        done: impl Fn(&T) -> bool,
    ) -> Result<T, E>
    where
        R: FnMut() -> F,
        F: Future<Output = Result<T, E>>,
    {
        let watch = self.watch(order_id);
        loop {
            let announced = watch.notify.notified();
            tokio::pin!(announced);
            announced.as_mut().enable();
            let now = read().await?;
            if done(&now) || Instant::now() >= deadline {
                return Ok(now);
            }
            let _ =
                tokio::time::timeout_at(deadline.min(Instant::now() + RECHECK), announced).await;
        }
    }

    fn watch(&self, order_id: Uuid) -> Watch {
        let mut waiting = self.waiting.lock().expect("settled waiters lock");
        let notify = waiting.entry(order_id).or_default().clone();
        Watch {
            settled: self.clone(),
            order_id,
            notify,
        }
    }

    #[cfg(test)]
    fn watched(&self) -> usize {
        self.waiting.lock().unwrap().len()
    }
}

/// One waiter's registration; the last one to go removes the order's entry.
struct Watch {
    settled: Settled,
    order_id: Uuid,
    notify: Arc<Notify>,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let mut waiting = self.settled.waiting.lock().expect("settled waiters lock");
        // The map's clone and ours: nobody else waits on this order.
        if Arc::strong_count(&self.notify) == 2 {
            waiting.remove(&self.order_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn an_announcement_wakes_the_waiter_before_the_recheck() {
        let settled = Settled::default();
        let id = Uuid::new_v4();
        let state = Arc::new(AtomicU32::new(0));
        let reads = Arc::new(AtomicU32::new(0));
        let waiter = {
            let (settled, state, reads) = (settled.clone(), state.clone(), reads.clone());
            tokio::spawn(async move {
                let started = Instant::now();
                let value = settled
                    .until(
                        id,
                        Instant::now() + Duration::from_secs(10),
                        || {
                            reads.fetch_add(1, Ordering::SeqCst);
                            let v = state.load(Ordering::SeqCst);
                            async move { Ok::<_, ()>(v) }
                        },
                        |v| *v == 1,
                    )
                    .await;
                (value, started.elapsed())
            })
        };
        while reads.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        state.store(1, Ordering::SeqCst);
        settled.announce(id);
        let (value, took) = waiter.await.unwrap();
        assert_eq!(value, Ok(1));
        assert!(took < RECHECK / 2, "woke after {took:?}");
        assert_eq!(settled.watched(), 0, "the registration is removed");
    }

    #[tokio::test(start_paused = true)]
    async fn without_an_announcement_the_waiter_rereads_every_second_until_the_deadline() {
        let settled = Settled::default();
        let reads = Arc::new(AtomicU32::new(0));
        let r = reads.clone();
        let last = settled
            .until(
                Uuid::new_v4(),
                Instant::now() + Duration::from_millis(3500),
                move || {
                    let n = r.fetch_add(1, Ordering::SeqCst) + 1;
                    async move { Ok::<_, ()>(n) }
                },
                |_| false,
            )
            .await;
        // t = 0, 1, 2, 3 and the deadline at 3.5 s.
        assert_eq!(last, Ok(5));
        assert_eq!(settled.watched(), 0);
    }
}
