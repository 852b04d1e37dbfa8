//! The checkout saga, orchestrated here with its state in the `orders` row (diagram:
//! docs/order-saga.md):
//!
//! ```text
//! reserve ──▶ charge ──▶ commit ──▶ done (CONFIRMED, order.confirmed)
//!    │          │          │
//!    └──────────┴──────────┴──▶ compensate ──▶ done (CANCELLED, order.cancelled)
//! ```
//!
//! - Each step calls another service idempotently by order id, so repeating one is harmless;
//!   that is what makes resuming after a crash safe. A worker holds a lease on the order while
//!   driving it; a crashed worker's lease lapses and the sweeper hands the order to another.
//! - A step answers (the step's outcome moves the saga on), or fails transiently (retried with
//!   backoff). Past the order's deadline a forward step is abandoned for `compensate` with the
//!   reason `timeout`.
//! - `compensate` gives the stock back (release, or return if committed) and refunds any
//!   succeeded payment, retrying until it succeeds: compensation has no deadline, because
//!   giving up would leave stock or money held.
//! - Every transition is one conditional update on the step it leaves; the final one inserts
//!   the order's event into the outbox in the same statement. A transition that finds the step
//!   changed under it (a user cancelled) reloads and continues from the new step.
//! - One statement per transition, and a new order handed over already leased with its items,
//!   because round trips to PostgreSQL were most of a saga's cost: an order now takes four
//!   statements from placement to CONFIRMED instead of twenty-two.
//! - So the saga's SQL is here, not in `store.rs`: placing an order ([`Saga::place`]), a user's
//!   cancellation ([`Saga::cancel`]), the sweep, claims and every transition; each statement
//!   is conditional on the step it leaves and written for the state machine above. `store.rs`
//!   reads orders and moves the status of orders whose saga is done.

use crate::clients::{Charge, Clients, Reserve, Transient};
use crate::events::{self, EventType};
use crate::settled::Settled;
use crate::store::{CancelReason, Order, OrderItem, OrderStatus};
use chrono::{DateTime, Utc};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rust_decimal::Decimal;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use uuid::Uuid;

/// The saga's next step, as stored in `orders.saga_step`. Decoded by `sqlx::Type`: a step this
/// code does not know is a decode error (logged; the order is left alone), never taken for
/// `done` (`Step::parse` once did, ending such a saga silently).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Step {
    Reserve,
    Charge,
    Commit,
    Compensate,
    Done,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Reserve => "reserve",
            Step::Charge => "charge",
            Step::Commit => "commit",
            Step::Compensate => "compensate",
            Step::Done => "done",
        }
    }
}

#[derive(Debug, Clone)]
pub struct SagaConfig {
    /// How long the forward steps may take in all before the order is cancelled (`timeout`).
    pub deadline: Duration,
    /// How long a worker owns an order without renewing; longer than any one step can take.
    pub lease: Duration,
    /// First retry delay of a step that failed transiently; doubles up to `retry_max`.
    pub retry_base: Duration,
    pub retry_max: Duration,
    /// Orders driven at once by this process.
    pub concurrency: usize,
}

impl Default for SagaConfig {
    fn default() -> SagaConfig {
        SagaConfig {
            deadline: Duration::from_secs(15),
            lease: Duration::from_secs(10),
            retry_base: Duration::from_millis(100),
            retry_max: Duration::from_secs(2),
            concurrency: 64,
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub step: &'static str,
}

/// `saga_orders{outcome}` (confirmed, or cancelled_<reason>), `saga_step_retries{step}`, and
/// `saga_running`: the sagas this instance is driving now (a count that climbs when a step's
/// callee is slow, before any order fails).
#[derive(Clone, Default)]
pub struct SagaMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
    retries: Family<StepLabels, Counter>,
    running: prometheus_client::metrics::gauge::Gauge,
}

impl SagaMetrics {
    pub fn new(registry: &kit::metrics::Metrics) -> SagaMetrics {
        let m = SagaMetrics::default();
        registry.register(
            "saga_orders",
            "Orders the saga finished, by outcome",
            m.outcomes.clone(),
        );
        registry.register(
            "saga_step_retries",
            "Saga steps that failed transiently and were retried, by step",
            m.retries.clone(),
        );
        registry.register(
            "saga_running",
            "Sagas this instance is driving now",
            m.running.clone(),
        );
        m
    }
}

/// What the saga reads of an order (the columns [`SAGA_COLUMNS`]).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SagaRow {
    pub id: Uuid,
    pub user_id: Uuid,
    saga_step: Step,
    saga_deadline: DateTime<Utc>,
    saga_attempts: i32,
    charge_attempted: bool,
    cancellation_reason: Option<CancelReason>,
    payment_token: String,
    total_amount: Decimal,
    currency: String,
    traceparent: Option<String>,
    request_id: Option<String>,
}

pub const SAGA_COLUMNS: &str = "id, user_id, saga_step, saga_deadline, saga_attempts, charge_attempted, cancellation_reason, payment_token, total_amount, currency, traceparent, request_id";

/// An order about to be placed: what [`Saga::place`] writes.
#[derive(Debug)]
pub struct Placement<'a> {
    pub user_id: Uuid,
    pub idempotency_key: Option<&'a str>,
    pub payment_token: &'a str,
    pub currency: &'a str,
    /// Priced, sorted by product id.
    pub items: Vec<OrderItem>,
}

#[derive(sqlx::FromRow)]
struct Placed {
    #[sqlx(flatten)]
    saga: SagaRow,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// Where a step's answer takes the saga.
#[derive(Debug)]
enum Next {
    Charge,
    Commit(Uuid),
    Compensate(CancelReason, String),
    Confirm,
    Cancel,
}

#[derive(Clone)]
pub struct Saga {
    pool: PgPool,
    clients: Clients,
    config: SagaConfig,
    outbox: Arc<Notify>,
    settled: Settled,
    slots: Arc<Semaphore>,
    metrics: SagaMetrics,
}

impl Saga {
    pub fn new(
        pool: PgPool,
        clients: Clients,
        config: SagaConfig,
        outbox: Arc<Notify>,
        settled: Settled,
        metrics: SagaMetrics,
    ) -> Saga {
        Saga {
            slots: Arc::new(Semaphore::new(config.concurrency.max(1))),
            pool,
            clients,
            config,
            outbox,
            settled,
            metrics,
        }
    }

    /// The saga's first statement: inserts the order, its items and its `order.created` event
    /// in one statement, leased to this process (then [`Saga::start`] drives it). `None` when
    /// the user's idempotency key is taken.
    pub async fn place(&self, placement: Placement<'_>) -> sqlx::Result<Option<(SagaRow, Order)>> {
        let Placement {
            user_id,
            idempotency_key,
            payment_token,
            currency,
            items,
        } = placement;
        let id = Uuid::new_v4();
        let total: Decimal = items
            .iter()
            .map(|i| i.price * Decimal::from(i.quantity))
            .sum();
        let trace = kit::trace::current();
        let event = events::outgoing(
            EventType::Created,
            events::OrderData {
                order_id: id,
                user_id,
                status: OrderStatus::Pending,
                total_amount: total,
                currency: currency.to_owned(),
                items: items.clone(),
                cancellation_reason: None,
            },
        );
        let sql = format!(
            "WITH placed AS (
                INSERT INTO orders (id, user_id, status, total_amount, currency, idempotency_key,
                                    saga_step, saga_deadline, lease_until, payment_token,
                                    traceparent, request_id)
                VALUES ($1, $2, 'PENDING', $3, $4, $5, 'reserve', now() + $6, now() + $7, $8, $9, $10)
                ON CONFLICT (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
                RETURNING {SAGA_COLUMNS}, created_at, updated_at
             ), lines AS (
                INSERT INTO order_items (order_id, product_id, quantity, price)
                SELECT placed.id, l.product_id, l.quantity, l.price
                FROM placed, unnest($11::uuid[], $12::int4[], $13::numeric[])
                     AS l(product_id, quantity, price)
             ), event AS (
                INSERT INTO outbox ({})
                SELECT $14, $15, $16, $17, $18, $19 FROM placed
             )
             SELECT * FROM placed",
            events::OUTBOX_COLUMNS
        );
        let query = sqlx::query_as(&sql)
            .bind(id)
            .bind(user_id)
            .bind(total)
            .bind(currency)
            .bind(idempotency_key)
            .bind(self.config.deadline)
            .bind(self.config.lease)
            .bind(payment_token)
            .bind(trace.as_ref().map(|t| t.trace.header()))
            .bind(trace.as_ref().map(|t| t.request_id.clone()))
            .bind(items.iter().map(|i| i.product_id).collect::<Vec<_>>())
            .bind(items.iter().map(|i| i.quantity).collect::<Vec<_>>())
            .bind(items.iter().map(|i| i.price).collect::<Vec<_>>());
        let placed: Option<Placed> = event.bind(query).fetch_optional(&self.pool).await?;
        Ok(placed.map(|p| {
            let order = Order {
                id,
                user_id,
                status: OrderStatus::Pending,
                total_amount: total,
                currency: currency.to_owned(),
                cancellation_reason: None,
                items,
                created_at: p.created_at,
                updated_at: p.updated_at,
            };
            (p.saga, order)
        }))
    }

    /// A user's cancellation: an order that is PENDING or CONFIRMED and not compensating yet
    /// moves to `compensate` (`cancelled_by_user`) and is driven in the background. Whether it
    /// moved now.
    pub async fn cancel(&self, order_id: Uuid) -> sqlx::Result<bool> {
        let requested = sqlx::query(
            "UPDATE orders SET saga_step = 'compensate', cancellation_reason = 'cancelled_by_user',
                    updated_at = now()
             WHERE id = $1 AND status IN ('PENDING', 'CONFIRMED')
               AND saga_step IN ('reserve', 'charge', 'commit', 'done')",
        )
        .bind(order_id)
        .execute(&self.pool)
        .await?
        .rows_affected()
            == 1;
        if requested {
            self.spawn(order_id);
        }
        Ok(requested)
    }

    /// Drives an order just placed by this process: inserted with its lease taken, so it needs
    /// no claim, and with its items at hand.
    pub fn start(&self, row: SagaRow, items: Vec<OrderItem>) {
        let saga = self.clone();
        tokio::spawn(async move {
            let queued = std::time::Instant::now();
            let Ok(slot) = saga.slots.acquire().await else {
                return;
            };
            if queued.elapsed() > saga.config.lease / 2 {
                // Queued behind busy slots long enough for the lease to be near its end (and
                // the sweeper to hand the order on): claim it like any other order rather than
                // drive it beside another worker.
                drop(slot);
                saga.drive(row.id).await;
                return;
            }
            saga.traced(row, Some(items)).await;
        });
    }

    /// Drives the order in the background, unless another worker holds it.
    pub fn spawn(&self, order_id: Uuid) {
        let saga = self.clone();
        tokio::spawn(async move { saga.drive(order_id).await });
    }

    /// Runs forever: every second, hands open orders nobody holds (their worker crashed, or
    /// this process restarted) to a worker.
    pub async fn sweep(self) {
        loop {
            let due: Result<Vec<Uuid>, sqlx::Error> = sqlx::query_scalar(
                "SELECT id FROM orders WHERE saga_step <> 'done'
                   AND (lease_until IS NULL OR lease_until < now())
                 ORDER BY created_at LIMIT 500",
            )
            .fetch_all(&self.pool)
            .await;
            match due {
                Ok(ids) => {
                    if !ids.is_empty() {
                        tracing::info!(orders = ids.len(), "saga: resuming orders nobody drives");
                    }
                    for id in ids {
                        self.spawn(id);
                    }
                }
                Err(e) => tracing::warn!(error = %e, "saga: sweep failed"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Claims the order and runs its saga to the end (or until the lease is lost).
    pub async fn drive(&self, order_id: Uuid) {
        let Ok(_slot) = self.slots.acquire().await else {
            return;
        };
        let row = match self.claim(order_id).await {
            Ok(Some(row)) => row,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(%order_id, error = %e, "saga: could not claim the order");
                return;
            }
        };
        self.traced(row, None).await;
    }

    /// Runs the saga inside the trace of the request that placed the order.
    async fn traced(&self, row: SagaRow, items: Option<Vec<OrderItem>>) {
        let (traceparent, request_id) = (row.traceparent.clone(), row.request_id.clone());
        // Counted down on drop: a saga cut short (shutdown, a lost lease) is not running.
        struct Running(prometheus_client::metrics::gauge::Gauge);
        impl Drop for Running {
            fn drop(&mut self) {
                self.0.dec();
            }
        }
        self.metrics.running.inc();
        let _running = Running(self.metrics.running.clone());
        kit::trace::continue_in(
            traceparent.as_deref(),
            request_id.as_deref(),
            "saga",
            self.run(row, items),
        )
        .await;
    }

    async fn claim(&self, id: Uuid) -> sqlx::Result<Option<SagaRow>> {
        sqlx::query_as(&format!(
            "UPDATE orders SET lease_until = now() + $2
             WHERE id = $1 AND saga_step <> 'done'
               AND (lease_until IS NULL OR lease_until < now())
             RETURNING {SAGA_COLUMNS}"
        ))
        .bind(id)
        .bind(self.config.lease)
        .fetch_optional(&self.pool)
        .await
    }

    async fn reload(&self, id: Uuid) -> sqlx::Result<SagaRow> {
        sqlx::query_as(&format!("SELECT {SAGA_COLUMNS} FROM orders WHERE id = $1"))
            .bind(id)
            .fetch_one(&self.pool)
            .await
    }

    async fn run(&self, mut row: SagaRow, mut items: Option<Vec<OrderItem>>) {
        loop {
            let step = row.saga_step;
            if step == Step::Done {
                return;
            }
            let forward = matches!(step, Step::Reserve | Step::Charge | Step::Commit);
            let outcome = if forward && row.saga_deadline < Utc::now() {
                Ok(Next::Compensate(
                    CancelReason::Timeout,
                    format!(
                        "the {} step did not finish before the deadline",
                        step.as_str()
                    ),
                ))
            } else {
                self.step(&mut row, step, &mut items).await
            };
            match outcome {
                Ok(next) => match self.apply(&row, step, next, &mut items).await {
                    Ok(Some(updated)) => row = updated,
                    Ok(None) => match self.reload(row.id).await {
                        // The step changed under us (a user cancelled): carry on from there.
                        Ok(updated) => row = updated,
                        Err(e) => {
                            tracing::warn!(order_id = %row.id, error = %e, "saga: reload failed; the sweeper will resume");
                            return;
                        }
                    },
                    Err(e) => {
                        tracing::warn!(order_id = %row.id, error = %e, "saga: transition failed; the sweeper will resume");
                        return;
                    }
                },
                Err(Transient { message: error, .. }) => {
                    self.metrics
                        .retries
                        .get_or_create(&StepLabels {
                            step: step.as_str(),
                        })
                        .inc();
                    let attempts = row.saga_attempts + 1;
                    tracing::warn!(order_id = %row.id, step = step.as_str(), attempts, %error, "saga: step failed; retrying");
                    let renewed = sqlx::query(
                        "UPDATE orders SET saga_attempts = $2, last_error = $3,
                                lease_until = now() + $4
                         WHERE id = $1",
                    )
                    .bind(row.id)
                    .bind(attempts)
                    .bind(&error)
                    .bind(self.config.lease)
                    .execute(&self.pool)
                    .await;
                    if renewed.is_err() {
                        return;
                    }
                    row.saga_attempts = attempts;
                    let exponent = (attempts - 1).clamp(0, 16) as u32;
                    let delay = self
                        .config
                        .retry_base
                        .saturating_mul(2u32.saturating_pow(exponent))
                        .min(self.config.retry_max);
                    tokio::time::sleep(delay).await;
                }
            }
        }
    }

    /// The order's items, read once per run of the saga.
    async fn items<'a>(
        &self,
        order_id: Uuid,
        items: &'a mut Option<Vec<OrderItem>>,
    ) -> sqlx::Result<&'a [OrderItem]> {
        if items.is_none() {
            *items = Some(
                sqlx::query_as(
                    "SELECT product_id, quantity, price FROM order_items
                     WHERE order_id = $1 ORDER BY product_id",
                )
                .bind(order_id)
                .fetch_all(&self.pool)
                .await?,
            );
        }
        Ok(items.as_deref().unwrap_or_default())
    }

    async fn mark_charge_attempted(&self, id: Uuid, attempted: bool) -> Result<(), Transient> {
        sqlx::query("UPDATE orders SET charge_attempted = $2 WHERE id = $1")
            .bind(id)
            .bind(attempted)
            .execute(&self.pool)
            .await
            .map(|_| ())
            .map_err(|e| Transient::new(format!("database: {e}")))
    }

    async fn step(
        &self,
        row: &mut SagaRow,
        step: Step,
        items: &mut Option<Vec<OrderItem>>,
    ) -> Result<Next, Transient> {
        match step {
            Step::Reserve => {
                let lines: Vec<(Uuid, i32)> = self
                    .items(row.id, items)
                    .await
                    .map_err(|e| Transient::new(format!("database: {e}")))?
                    .iter()
                    .map(|i| (i.product_id, i.quantity))
                    .collect();
                Ok(match self.clients.reserve(row.id, &lines).await? {
                    Reserve::Reserved => Next::Charge,
                    Reserve::Refused(why) => Next::Compensate(CancelReason::OutOfStock, why),
                })
            }
            Step::Charge => {
                // The move to `charge` marked the charge attempted. A refused connection means
                // this attempt never reached the payment service; unless an earlier attempt at
                // this step might have, the mark is taken back, so that compensating needs no
                // payment service that was never reached.
                let maybe_sent_before = row.charge_attempted && row.saga_attempts > 0;
                if !row.charge_attempted {
                    self.mark_charge_attempted(row.id, true).await?;
                    row.charge_attempted = true;
                }
                let charged = self
                    .clients
                    .charge(row.id, row.total_amount, &row.currency, &row.payment_token)
                    .await;
                if let Err(Transient { not_sent: true, .. }) = &charged {
                    if !maybe_sent_before {
                        self.mark_charge_attempted(row.id, false).await?;
                        row.charge_attempted = false;
                    }
                }
                Ok(match charged? {
                    Charge::Succeeded(payment_id) => Next::Commit(payment_id),
                    Charge::Declined(why) => Next::Compensate(CancelReason::PaymentDeclined, why),
                })
            }
            Step::Commit => Ok(if self.clients.commit(row.id).await? {
                Next::Confirm
            } else {
                Next::Compensate(
                    CancelReason::Timeout,
                    "the stock reservation was released before it could be committed".into(),
                )
            }),
            Step::Compensate => {
                self.clients.give_back_stock(row.id).await?;
                if row.charge_attempted {
                    self.clients.refund_order(row.id).await?;
                }
                Ok(Next::Cancel)
            }
            Step::Done => Ok(Next::Cancel),
        }
    }

    /// Moves the saga on from `from` in one statement, with the order's event when its status
    /// changes. `None` when the step is no longer `from` (changed concurrently).
    async fn apply(
        &self,
        row: &SagaRow,
        from: Step,
        next: Next,
        items: &mut Option<Vec<OrderItem>>,
    ) -> sqlx::Result<Option<SagaRow>> {
        let lease = self.config.lease;
        let moved: Option<SagaRow> = match next {
            Next::Charge | Next::Commit(_) => {
                let (to, payment) = match next {
                    Next::Commit(payment_id) => (Step::Commit, Some(payment_id)),
                    _ => (Step::Charge, None),
                };
                sqlx::query_as(&format!(
                    "UPDATE orders SET saga_step = $3, payment_id = COALESCE($4, payment_id),
                            charge_attempted = charge_attempted OR $3 = 'charge',
                            saga_attempts = 0, last_error = NULL,
                            lease_until = now() + $5, updated_at = now()
                     WHERE id = $1 AND saga_step = $2 RETURNING {SAGA_COLUMNS}"
                ))
                .bind(row.id)
                .bind(from.as_str())
                .bind(to.as_str())
                .bind(payment)
                .bind(lease)
                .fetch_optional(&self.pool)
                .await?
            }
            Next::Compensate(reason, why) => {
                tracing::info!(order_id = %row.id, reason = reason.as_str(), %why, "saga: compensating");
                sqlx::query_as(&format!(
                    "UPDATE orders SET saga_step = 'compensate',
                            cancellation_reason = COALESCE(cancellation_reason, $3),
                            saga_attempts = 0, last_error = $4,
                            lease_until = now() + $5, updated_at = now()
                     WHERE id = $1 AND saga_step = $2 RETURNING {SAGA_COLUMNS}"
                ))
                .bind(row.id)
                .bind(from.as_str())
                .bind(reason.as_str())
                .bind(why)
                .bind(lease)
                .fetch_optional(&self.pool)
                .await?
            }
            Next::Confirm | Next::Cancel => {
                let (status, kind, reason) = match next {
                    Next::Confirm => (OrderStatus::Confirmed, EventType::Confirmed, None),
                    _ => (
                        OrderStatus::Cancelled,
                        EventType::Cancelled,
                        row.cancellation_reason,
                    ),
                };
                let items = self.items(row.id, items).await?.to_vec();
                let event = events::outgoing(
                    kind,
                    events::OrderData {
                        order_id: row.id,
                        user_id: row.user_id,
                        status,
                        total_amount: row.total_amount,
                        currency: row.currency.clone(),
                        items,
                        cancellation_reason: reason,
                    },
                );
                // The event goes in with the update or not at all: it is inserted for each row
                // the update returns, in the same statement.
                let sql = format!(
                    "WITH moved AS (
                        UPDATE orders SET saga_step = 'done', status = $3, lease_until = NULL,
                               saga_attempts = 0, updated_at = now()
                        WHERE id = $1 AND saga_step = $2 RETURNING {SAGA_COLUMNS}
                     ), event AS (
                        INSERT INTO outbox ({})
                        SELECT $4, $5, $6, $7, $8, $9 FROM moved
                     )
                     SELECT {SAGA_COLUMNS} FROM moved",
                    events::OUTBOX_COLUMNS
                );
                let query = sqlx::query_as(&sql)
                    .bind(row.id)
                    .bind(from.as_str())
                    .bind(status.as_str());
                let moved: Option<SagaRow> = event.bind(query).fetch_optional(&self.pool).await?;
                if moved.is_some() {
                    let outcome = match reason {
                        None => "confirmed",
                        Some(CancelReason::OutOfStock) => "cancelled_out_of_stock",
                        Some(CancelReason::PaymentDeclined) => "cancelled_payment_declined",
                        Some(CancelReason::CancelledByUser) => "cancelled_by_user",
                        Some(CancelReason::Timeout) => "cancelled_timeout",
                    };
                    self.metrics
                        .outcomes
                        .get_or_create(&OutcomeLabels { outcome })
                        .inc();
                    tracing::info!(order_id = %row.id, status = status.as_str(), "saga: finished");
                    self.outbox.notify_one();
                    self.settled.announce(row.id);
                }
                moved
            }
        };
        Ok(moved)
    }
}
