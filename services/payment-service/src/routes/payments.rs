//! Charges and refunds.
//!
//! Charging is idempotent by order id: one transaction inserts the payment row first
//! (`ON CONFLICT (order_id) DO NOTHING`), then calls the provider, then records the outcome and
//! commits. A concurrent duplicate blocks on the unique index until the first commits, then
//! finds the row and answers 200 with it (the provider is charged once). A transient provider
//! failure rolls the row back, so nothing is recorded and a retry can succeed.

use super::AppState;
use crate::provider::{Charge, Token, Unavailable};
use crate::store::{self, Payment, PaymentStatus};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kit::extract::Resource;
use kit::{FieldError, Json, Problem, Query, UuidPath};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::Value;
use std::str::FromStr;
use utoipa::ToSchema;
use uuid::Uuid;

/// The largest amount NUMERIC(12,2) holds.
const MAX_AMOUNT: Decimal = Decimal::from_parts(1_000_000_000, 0, 0, false, 0);

/// A charge request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentRequest {
    /// The order; charging again for the same order is an idempotent retry.
    pub order_id: Uuid,
    /// Decimal string greater than 0 with at most 2 decimals.
    #[schema(value_type = String, example = "19.99")]
    pub amount: Decimal,
    /// 3 uppercase letters.
    #[schema(example = "EUR", pattern = "^[A-Z]{3}$")]
    pub currency: String,
    /// Card token: `tok_visa`, `tok_declined` or `tok_slow`.
    #[schema(example = "tok_visa")]
    pub token: String,
}

/// The body as received, loosely typed so every bad field is reported at once.
#[derive(Debug, Default, Deserialize)]
pub struct PaymentRequestRaw {
    order_id: Option<Value>,
    amount: Option<Value>,
    currency: Option<Value>,
    token: Option<Value>,
}

#[derive(Debug)]
pub struct NewPayment {
    pub order_id: Uuid,
    pub amount: Decimal,
    pub currency: String,
    pub token: Token,
}

impl PaymentRequestRaw {
    pub fn validate(self) -> Result<NewPayment, Vec<FieldError>> {
        let mut errors = Vec::new();
        let order_id = match self.order_id {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("order_id", "is required"));
                None
            }
            Some(Value::String(s)) => Uuid::parse_str(&s)
                .map_err(|_| errors.push(FieldError::new("order_id", "must be a UUID")))
                .ok(),
            Some(_) => {
                errors.push(FieldError::new("order_id", "must be a UUID string"));
                None
            }
        };
        let amount = match self.amount {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("amount", "is required"));
                None
            }
            Some(Value::String(s)) => match Decimal::from_str(s.trim()) {
                Ok(d) if d <= Decimal::ZERO => {
                    errors.push(FieldError::new("amount", "must be greater than 0"));
                    None
                }
                Ok(d) if d.normalize().scale() > 2 => {
                    errors.push(FieldError::new("amount", "must have at most 2 decimals"));
                    None
                }
                Ok(d) if d >= MAX_AMOUNT => {
                    errors.push(FieldError::new("amount", "must be less than 10000000000"));
                    None
                }
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(FieldError::new(
                        "amount",
                        "must be a decimal string such as \"19.99\"",
                    ));
                    None
                }
            },
            Some(_) => {
                errors.push(FieldError::new(
                    "amount",
                    "must be a decimal string such as \"19.99\"",
                ));
                None
            }
        };
        let currency = match self.currency {
            Some(Value::String(s)) if s.len() == 3 && s.bytes().all(|b| b.is_ascii_uppercase()) => {
                Some(s)
            }
            None | Some(Value::Null) => {
                errors.push(FieldError::new("currency", "is required"));
                None
            }
            Some(_) => {
                errors.push(FieldError::new(
                    "currency",
                    "must be 3 uppercase letters (ISO 4217, e.g. EUR)",
                ));
                None
            }
        };
        let token = match self.token {
            None | Some(Value::Null) => {
                errors.push(FieldError::new("token", "is required"));
                None
            }
            Some(Value::String(s)) => Token::from_str(&s)
                .map_err(|_| {
                    errors.push(FieldError::new(
                        "token",
                        "unknown card token (tok_visa, tok_declined or tok_slow)",
                    ))
                })
                .ok(),
            Some(_) => {
                errors.push(FieldError::new("token", "must be a string"));
                None
            }
        };
        match (order_id, amount, currency, token) {
            (Some(order_id), Some(amount), Some(currency), Some(token)) if errors.is_empty() => {
                Ok(NewPayment {
                    order_id,
                    amount: amount.normalize(),
                    currency,
                    token,
                })
            }
            _ => Err(errors),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("invalid payment request")]
    Invalid(Vec<FieldError>),
    #[error("order {0} was already charged with a different amount or currency")]
    DifferentCharge(Uuid),
    #[error("no payment {0}")]
    NotFound(String),
    #[error("payment {0} was declined; there is nothing to refund")]
    NotRefundable(Uuid),
    #[error("the payment provider is temporarily unavailable; nothing was charged, retry later")]
    Unavailable(#[from] Unavailable),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<PaymentError> for Problem {
    fn from(e: PaymentError) -> Problem {
        let detail = e.to_string();
        match e {
            PaymentError::Invalid(errors) => Problem::validation(errors),
            PaymentError::DifferentCharge(_) | PaymentError::NotRefundable(_) => {
                Problem::conflict(detail)
            }
            PaymentError::NotFound(_) => Problem::not_found(detail),
            PaymentError::Unavailable(_) => Problem::unavailable(detail)
                .kind("https://msctl.dev/problems/provider-unavailable")
                .retry_after(1),
            PaymentError::Database(e) => Problem::internal(&e),
        }
    }
}

impl IntoResponse for PaymentError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// `payments_total{outcome}`: charge attempts by outcome.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

#[derive(Clone, Default)]
pub struct PaymentMetrics {
    outcomes: Family<OutcomeLabels, Counter>,
}

impl PaymentMetrics {
    pub fn new(registry: &kit::metrics::Metrics) -> PaymentMetrics {
        let m = PaymentMetrics::default();
        registry.register(
            "payments",
            "Charge requests, by outcome (succeeded, declined, replayed, unavailable, conflict, invalid, error)",
            m.outcomes.clone(),
        );
        m
    }

    fn count(&self, outcome: &'static str) {
        self.outcomes
            .get_or_create(&OutcomeLabels { outcome })
            .inc();
    }
}

/// Charges the order once. `Ok((true, p))` when this call charged, `Ok((false, p))` for a retry.
pub async fn charge(
    state: &AppState,
    request: NewPayment,
) -> Result<(bool, Payment), PaymentError> {
    let mut tx = state.pool.begin().await?;
    let inserted =
        store::insert_pending(&mut tx, request.order_id, request.amount, &request.currency).await?;
    let Some(id) = inserted else {
        tx.rollback().await?;
        let existing = store::by_order(&state.pool, request.order_id)
            .await?
            .ok_or_else(|| PaymentError::NotFound(request.order_id.to_string()))?;
        return if existing.amount == request.amount && existing.currency == request.currency {
            Ok((false, existing))
        } else {
            Err(PaymentError::DifferentCharge(request.order_id))
        };
    };
    // The row stays invisible (and the order id locked) until the outcome is recorded; a
    // transient failure drops `tx`, which rolls the row back.
    let (status, reason) = match state.provider.charge(request.token).await? {
        Charge::Succeeded => (PaymentStatus::Succeeded, None),
        Charge::Declined(reason) => (PaymentStatus::Declined, Some(reason)),
    };
    let payment = store::record_outcome(&mut tx, id, status, reason).await?;
    tx.commit().await?;
    Ok((true, payment))
}

/// Charge an order (idempotent by order id).
#[utoipa::path(
    post,
    path = "/payments",
    tag = "payments",
    request_body = PaymentRequest,
    responses(
        (status = 201, description = "Charged: the payment, `succeeded` or `declined`", body = Payment,
            headers(("location" = String, description = "/payments/{id}"))),
        (status = 200, description = "A retry for an order already charged: the same payment (not charged again)", body = Payment),
        (status = 400, description = "Malformed JSON"),
        (status = 409, description = "The order was charged with a different amount or currency"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "Invalid fields (including an unknown token)"),
        (status = 503, description = "Transient provider failure; nothing recorded, retry"),
    )
)]
pub async fn create_payment(
    State(state): State<AppState>,
    Json(body): Json<PaymentRequestRaw>,
) -> Result<Response, PaymentError> {
    let request = match body.validate() {
        Ok(r) => r,
        Err(errors) => {
            state.metrics.count("invalid");
            return Err(PaymentError::Invalid(errors));
        }
    };
    let result = charge(&state, request).await;
    state.metrics.count(match &result {
        Ok((true, p)) if p.status == PaymentStatus::Declined => "declined",
        Ok((true, _)) => "succeeded",
        Ok((false, _)) => "replayed",
        Err(PaymentError::Unavailable(_)) => "unavailable",
        Err(PaymentError::DifferentCharge(_)) => "conflict",
        Err(_) => "error",
    });
    let (created, payment) = result?;
    if created {
        tracing::info!(payment_id = %payment.id, order_id = %payment.order_id, status = ?payment.status, "charged");
        let location = format!("/payments/{}", payment.id);
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            axum::Json(payment),
        )
            .into_response())
    } else {
        Ok((StatusCode::OK, axum::Json(payment)).into_response())
    }
}

/// A payment id in a path (`kit::UuidPath<Payment>`): anything that is not a UUID names no
/// payment (404).
impl Resource for Payment {
    const NAME: &'static str = "payment";
}

/// A payment.
#[utoipa::path(
    get,
    path = "/payments/{id}",
    tag = "payments",
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The payment", body = Payment),
        (status = 404, description = "No such payment"),
    )
)]
pub async fn get_payment(
    State(state): State<AppState>,
    UuidPath(id, _): UuidPath<Payment>,
) -> Result<axum::Json<Payment>, PaymentError> {
    store::by_id(&state.pool, id)
        .await?
        .map(axum::Json)
        .ok_or(PaymentError::NotFound(id.to_string()))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct PaymentQuery {
    /// The order whose payments to list (required).
    order_id: Option<String>,
}

/// The payments of an order (at most one: charging is idempotent by order id). The order service
/// uses it to find what to refund when it compensates after an unanswered charge.
#[utoipa::path(
    get,
    path = "/payments",
    tag = "payments",
    params(PaymentQuery),
    responses(
        (status = 200, description = "The order's payments (empty when it was never charged)", body = Vec<Payment>),
        (status = 422, description = "Missing or invalid `order_id`"),
    )
)]
pub async fn list_payments(
    State(state): State<AppState>,
    Query(query): Query<PaymentQuery>,
) -> Result<axum::Json<Vec<Payment>>, PaymentError> {
    let order_id = match query.order_id.as_deref().map(Uuid::parse_str) {
        Some(Ok(id)) => id,
        Some(Err(_)) => {
            return Err(PaymentError::Invalid(vec![FieldError::new(
                "order_id",
                "must be a UUID",
            )]))
        }
        None => {
            return Err(PaymentError::Invalid(vec![FieldError::new(
                "order_id",
                "is required",
            )]))
        }
    };
    Ok(axum::Json(
        store::by_order(&state.pool, order_id)
            .await?
            .into_iter()
            .collect(),
    ))
}

/// Refund a succeeded payment (idempotent: refunding again answers the same refunded payment).
#[utoipa::path(
    post,
    path = "/payments/{id}/refund",
    tag = "payments",
    params(("id" = Uuid, Path, description = "Payment id")),
    responses(
        (status = 200, description = "The refunded payment", body = Payment),
        (status = 404, description = "No such payment"),
        (status = 409, description = "The payment was declined: nothing to refund"),
    )
)]
pub async fn refund_payment(
    State(state): State<AppState>,
    UuidPath(id, _): UuidPath<Payment>,
) -> Result<axum::Json<Payment>, PaymentError> {
    if let Some(payment) = store::refund(&state.pool, id).await? {
        tracing::info!(payment_id = %id, "refunded");
        return Ok(axum::Json(payment));
    }
    match store::by_id(&state.pool, id).await? {
        None => Err(PaymentError::NotFound(id.to_string())),
        Some(p) if p.status == PaymentStatus::Refunded => Ok(axum::Json(p)),
        Some(_) => Err(PaymentError::NotRefundable(id)),
    }
}
