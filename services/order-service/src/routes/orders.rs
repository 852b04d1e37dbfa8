//! The orders API. The caller is the identity the gateway vouches for (`kit::identity`).

use super::AppState;
use crate::events::{self, EventType};
use crate::saga::Placement;
use crate::store::{self, Order, OrderItem, OrderStatus};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use kit::extract::Resource;
use kit::identity::{Admin, Identity, IdentityHeaders};
use kit::paging::Paging;
use kit::{FieldError, Json, Problem, Query, UuidPath};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;
use tokio::time::Instant;
use utoipa::ToSchema;
use uuid::Uuid;

pub const MAX_ITEMS: usize = 50;
pub const MAX_QUANTITY: i64 = 1000;
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// How long `POST /orders/{id}/cancel` waits for the compensation before answering 202.
const CANCEL_WAIT: Duration = Duration::from_secs(4);
/// The longest `GET /orders/{id}?wait=`: below the gateway's 5 s upstream timeout, after which
/// it would retry the GET.
pub const MAX_WAIT: Duration = Duration::from_secs(4);

#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("invalid order")]
    Invalid(Vec<FieldError>),
    #[error("no order {0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}; nothing was ordered, retry later")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<OrderError> for Problem {
    fn from(e: OrderError) -> Problem {
        let detail = e.to_string();
        match e {
            OrderError::Invalid(errors) => Problem::validation(errors),
            OrderError::NotFound(_) => Problem::not_found(detail),
            OrderError::Conflict(_) => Problem::conflict(detail),
            OrderError::Unavailable(_) => Problem::unavailable(detail).retry_after(1),
            OrderError::Database(e) => Problem::internal(&e),
        }
    }
}

/// An order id in a path (`kit::UuidPath<Order>`): anything that is not a UUID names no order
/// (404).
impl Resource for Order {
    const NAME: &'static str = "order";
}

impl IntoResponse for OrderError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// An order request.
#[derive(Debug, Deserialize, ToSchema)]
pub struct OrderRequest {
    /// 1 to 50 lines, each product at most once.
    pub items: Vec<ItemRequest>,
    pub payment: PaymentRequest,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct ItemRequest {
    pub product_id: Uuid,
    /// 1 to 1000.
    #[schema(minimum = 1, maximum = 1000)]
    pub quantity: i32,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PaymentRequest {
    /// Card token for the payment provider (`tok_visa`, `tok_declined`, `tok_slow` in the
    /// simulated one).
    #[schema(example = "tok_visa")]
    pub token: String,
}

/// The body as received, loosely typed so that every bad field is reported at once.
#[derive(Debug, Default, Deserialize)]
pub struct OrderRequestRaw {
    items: Option<Value>,
    payment: Option<Value>,
}

#[derive(Debug, PartialEq)]
pub struct NewOrder {
    /// Sorted by product id.
    pub items: Vec<(Uuid, i32)>,
    pub token: String,
}

impl OrderRequestRaw {
    pub fn validate(self) -> Result<NewOrder, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut items = BTreeMap::new();
        match self.items {
            Some(Value::Array(list)) if list.is_empty() => {
                errors.push(FieldError::new("items", "must have at least one item"))
            }
            Some(Value::Array(list)) if list.len() > MAX_ITEMS => errors.push(FieldError::new(
                "items",
                format!("must have at most {MAX_ITEMS} items"),
            )),
            Some(Value::Array(list)) => {
                for (i, item) in list.iter().enumerate() {
                    let product = match item.get("product_id") {
                        Some(Value::String(s)) => Uuid::parse_str(s).ok(),
                        _ => None,
                    };
                    let quantity = item.get("quantity").and_then(Value::as_i64);
                    if product.is_none() {
                        errors.push(FieldError::new(
                            format!("items[{i}].product_id"),
                            "must be a product UUID",
                        ));
                    }
                    match quantity {
                        Some(q) if (1..=MAX_QUANTITY).contains(&q) => {}
                        _ => errors.push(FieldError::new(
                            format!("items[{i}].quantity"),
                            format!("must be an integer from 1 to {MAX_QUANTITY}"),
                        )),
                    }
                    if let (Some(product), Some(q)) = (product, quantity) {
                        if items.insert(product, q as i32).is_some() {
                            errors.push(FieldError::new(
                                format!("items[{i}].product_id"),
                                "appears more than once; order it once with the total quantity",
                            ));
                        }
                    }
                }
            }
            None | Some(Value::Null) => errors.push(FieldError::new("items", "is required")),
            Some(_) => errors.push(FieldError::new("items", "must be an array")),
        }
        let token = match self.payment.as_ref().map(|p| p.get("token")) {
            Some(Some(Value::String(t))) if !t.trim().is_empty() && t.len() <= 64 => {
                Some(t.trim().to_owned())
            }
            Some(Some(Value::String(_))) => {
                errors.push(FieldError::new(
                    "payment.token",
                    "must be 1 to 64 characters",
                ));
                None
            }
            None | Some(None) | Some(Some(Value::Null)) => {
                errors.push(FieldError::new("payment.token", "is required"));
                None
            }
            Some(Some(_)) => {
                errors.push(FieldError::new("payment.token", "must be a string"));
                None
            }
        };
        match token {
            Some(token) if errors.is_empty() => Ok(NewOrder {
                items: items.into_iter().collect(),
                token,
            }),
            _ => Err(errors),
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, OrderError> {
    match headers.get(IDEMPOTENCY_KEY) {
        None => Ok(None),
        Some(v) => match v.to_str() {
            Ok(k) if !k.trim().is_empty() && k.len() <= 255 => Ok(Some(k.trim().to_owned())),
            _ => Err(OrderError::Invalid(vec![FieldError::new(
                "Idempotency-Key",
                "must be 1 to 255 visible ASCII characters",
            )])),
        },
    }
}

fn accepted(status: StatusCode, order: Order) -> Response {
    let location = format!("/orders/{}", order.id);
    (status, [(header::LOCATION, location)], axum::Json(order)).into_response()
}

/// Whether `order` is what `request` would have created (an honest retry of the same key).
fn same_request(order: &Order, stored_token: &str, request: &NewOrder) -> bool {
    let ordered: Vec<(Uuid, i32)> = order
        .items
        .iter()
        .map(|i| (i.product_id, i.quantity))
        .collect();
    ordered == request.items && request.token == stored_token
}

async fn replay(
    state: &AppState,
    identity: &Identity,
    key: &str,
    request: &NewOrder,
) -> Result<Option<Response>, OrderError> {
    let mut conn = state.pool.acquire().await?;
    let Some(order) = store::by_idempotency_key(&mut conn, identity.user_id, key).await? else {
        return Ok(None);
    };
    let stored_token = store::payment_token(&mut conn, order.id).await?;
    if same_request(&order, &stored_token, request) {
        Ok(Some(accepted(StatusCode::OK, order)))
    } else {
        Err(OrderError::Conflict(format!(
            "Idempotency-Key {key:?} was already used for order {} with a different request",
            order.id
        )))
    }
}

/// Place an order: 202 with the PENDING order; the saga confirms or cancels it.
#[utoipa::path(
    post,
    path = "/orders",
    tag = "orders",
    request_body = OrderRequest,
    params(
        IdentityHeaders,
        ("Idempotency-Key" = Option<String>, Header, description = "Makes a retry return the same order instead of placing another"),
    ),
    responses(
        (status = 202, description = "Accepted: the PENDING order; poll its Location", body = Order,
            headers(("location" = String, description = "/orders/{id}"))),
        (status = 200, description = "A retry with the same Idempotency-Key: the order placed the first time, as it is now", body = Order),
        (status = 400, description = "Malformed JSON"),
        (status = 401, description = "No identity"),
        (status = 409, description = "The Idempotency-Key was used for a different request"),
        (status = 415, description = "Not JSON"),
        (status = 422, description = "Invalid items, quantities, unknown products or token, all listed in `errors`"),
        (status = 503, description = "The catalogue could not be reached to price the order; nothing was ordered"),
    )
)]
pub async fn create_order(
    State(state): State<AppState>,
    identity: Identity,
    headers: HeaderMap,
    Json(body): Json<OrderRequestRaw>,
) -> Result<Response, OrderError> {
    let key = idempotency_key(&headers)?;
    let request = body.validate().map_err(OrderError::Invalid)?;
    let priced = match price(&state, &request).await {
        Ok(priced) => priced,
        Err(e) => {
            // A retry of an order placed before is answered as it was, even if its products
            // are gone or the catalogue is unreachable now.
            if let Some(key) = &key {
                if let Some(response) = replay(&state, &identity, key, &request).await? {
                    return Ok(response);
                }
            }
            return Err(e);
        }
    };
    let placement = Placement {
        user_id: identity.user_id,
        idempotency_key: key.as_deref(),
        payment_token: &request.token,
        currency: &state.currency,
        items: priced,
    };
    match state.saga.place(placement).await? {
        Some((row, order)) => {
            state.outbox.notify_one();
            state.saga.start(row, order.items.clone());
            tracing::info!(order_id = %order.id, user_id = %identity.user_id, total = %order.total_amount, "order placed");
            Ok(accepted(StatusCode::ACCEPTED, order))
        }
        // The key was used before, or by a concurrent request (the insert waited for it).
        None => replay(
            &state,
            &identity,
            key.as_deref().unwrap_or_default(),
            &request,
        )
        .await?
        .ok_or_else(|| OrderError::Conflict("concurrent request; retry".into())),
    }
}

/// Each line with the product's current price, or every unknown product listed.
async fn price(state: &AppState, request: &NewOrder) -> Result<Vec<OrderItem>, OrderError> {
    let prices = futures_util::future::join_all(
        request
            .items
            .iter()
            .map(|(product_id, _)| state.clients.price(*product_id)),
    )
    .await;
    let mut errors = Vec::new();
    let mut priced = Vec::new();
    for ((product_id, quantity), price) in request.items.iter().zip(prices) {
        match price.map_err(|e| OrderError::Unavailable(format!("pricing failed: {e}")))? {
            Some(price) => priced.push(OrderItem {
                product_id: *product_id,
                quantity: *quantity,
                price,
            }),
            None => errors.push(FieldError::new(
                format!("items[product_id={product_id}]"),
                "no such product",
            )),
        }
    }
    if errors.is_empty() {
        Ok(priced)
    } else {
        Err(OrderError::Invalid(errors))
    }
}

/// The order, if the caller may see it (its owner or an admin).
async fn visible(state: &AppState, identity: &Identity, id: Uuid) -> Result<Order, OrderError> {
    let not_found = || OrderError::NotFound(id.to_string());
    let mut conn = state.pool.acquire().await?;
    match store::load(&mut conn, id).await? {
        // Someone else's order is as absent as a missing one: its existence is not revealed.
        Some(order) if identity.may_manage(order.user_id) => Ok(order),
        _ => Err(not_found()),
    }
}

/// An order (its owner or an admin). With `wait`, a PENDING order is answered when its saga
/// settles (CONFIRMED or CANCELLED), or as it is once `wait` has passed.
#[utoipa::path(
    get,
    path = "/orders/{id}",
    tag = "orders",
    params(
        ("id" = Uuid, Path, description = "Order id"),
        ("wait" = Option<f64>, Query, description = "Seconds (0 to 4, fractions allowed) to hold the answer while the order is PENDING; answered as soon as it is not. Below the gateway's 5 s upstream timeout"),
        IdentityHeaders,
    ),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 401, description = "No identity"),
        (status = 404, description = "No such order, or not the caller's"),
        (status = 422, description = "Invalid `wait`"),
    )
)]
pub async fn get_order(
    State(state): State<AppState>,
    identity: Identity,
    UuidPath(id, _): UuidPath<Order>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<axum::Json<Order>, OrderError> {
    let wait = wait_param(&params)?;
    let order = state
        .settled
        .until(
            id,
            Instant::now() + wait,
            || visible(&state, &identity, id),
            |o: &Order| o.status != OrderStatus::Pending,
        )
        .await?;
    Ok(axum::Json(order))
}

fn wait_param(params: &HashMap<String, String>) -> Result<Duration, OrderError> {
    let Some(raw) = params.get("wait") else {
        return Ok(Duration::ZERO);
    };
    match raw.parse::<f64>() {
        Ok(secs) if (0.0..=MAX_WAIT.as_secs_f64()).contains(&secs) => {
            Ok(Duration::from_secs_f64(secs))
        }
        _ => Err(OrderError::Invalid(vec![FieldError::new(
            "wait",
            format!(
                "must be a number of seconds from 0 to {}",
                MAX_WAIT.as_secs()
            ),
        )])),
    }
}

/// One page of orders.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OrderPage {
    pub items: Vec<Order>,
    pub page: u32,
    pub per_page: u32,
    /// The caller's orders over all pages.
    pub total: i64,
}

/// The caller's orders, newest first.
#[utoipa::path(
    get,
    path = "/orders",
    tag = "orders",
    params(
        ("page" = Option<u32>, Query, description = "From 1 (default 1)"),
        ("per_page" = Option<u32>, Query, description = "1 to 100 (default 20)"),
        IdentityHeaders,
    ),
    responses(
        (status = 200, description = "One page of the caller's orders", body = OrderPage),
        (status = 401, description = "No identity"),
        (status = 422, description = "Invalid paging"),
    )
)]
pub async fn list_orders(
    State(state): State<AppState>,
    identity: Identity,
    Query(params): Query<HashMap<String, String>>,
) -> Result<axum::Json<OrderPage>, OrderError> {
    let mut errors = Vec::new();
    let get = |name: &str| params.get(name).map(String::as_str);
    let paging = Paging::parse(get("page"), get("per_page"), &mut errors);
    if !errors.is_empty() {
        return Err(OrderError::Invalid(errors));
    }
    let (items, total) = store::list_for_user(&state.pool, identity.user_id, paging).await?;
    Ok(axum::Json(OrderPage {
        items,
        page: paging.page,
        per_page: paging.per_page,
        total,
    }))
}

/// Cancel an order (its owner or an admin) that is PENDING or CONFIRMED: its stock goes back
/// and its payment is refunded.
#[utoipa::path(
    post,
    path = "/orders/{id}/cancel",
    tag = "orders",
    params(
        ("id" = Uuid, Path, description = "Order id"),
        IdentityHeaders,
    ),
    responses(
        (status = 200, description = "Cancelled (now or before)", body = Order),
        (status = 202, description = "Cancellation under way (compensation still running); poll the order", body = Order),
        (status = 401, description = "No identity"),
        (status = 404, description = "No such order, or not the caller's"),
        (status = 409, description = "Already shipped or completed"),
    )
)]
pub async fn cancel_order(
    State(state): State<AppState>,
    identity: Identity,
    UuidPath(id, _): UuidPath<Order>,
) -> Result<Response, OrderError> {
    let order = visible(&state, &identity, id).await?;
    if state.saga.cancel(order.id).await? {
        tracing::info!(order_id = %order.id, "cancellation requested");
    }
    let now = state
        .settled
        .until(
            order.id,
            Instant::now() + CANCEL_WAIT,
            || async {
                let mut conn = state.pool.acquire().await?;
                store::load(&mut conn, order.id)
                    .await?
                    .ok_or_else(|| OrderError::NotFound(id.to_string()))
            },
            |o: &Order| o.status != OrderStatus::Pending && o.status != OrderStatus::Confirmed,
        )
        .await?;
    match now.status {
        OrderStatus::Cancelled => Ok((StatusCode::OK, axum::Json(now)).into_response()),
        OrderStatus::Shipped | OrderStatus::Completed => Err(OrderError::Conflict(format!(
            "order {} is {}; it can no longer be cancelled",
            now.id,
            now.status.as_str()
        ))),
        _ => Ok((StatusCode::ACCEPTED, axum::Json(now)).into_response()),
    }
}

async fn advance(
    state: &AppState,
    id: Uuid,
    from: OrderStatus,
    to: OrderStatus,
    event: EventType,
) -> Result<axum::Json<Order>, OrderError> {
    let mut tx = state.pool.begin().await?;
    let moved = store::advance_status(&mut tx, id, from, to).await?;
    let order = store::load(&mut tx, id)
        .await?
        .ok_or_else(|| OrderError::NotFound(id.to_string()))?;
    if !moved {
        return if order.status == to {
            Ok(axum::Json(order))
        } else {
            Err(OrderError::Conflict(format!(
                "order {id} is {}; only a {} order can become {}",
                order.status.as_str(),
                from.as_str(),
                to.as_str()
            )))
        };
    }
    events::record(&mut tx, &order, event).await?;
    tx.commit().await?;
    state.outbox.notify_one();
    Ok(axum::Json(order))
}

/// Mark a CONFIRMED order shipped (admin).
#[utoipa::path(
    post,
    path = "/orders/{id}/ship",
    tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Shipped (now or before)", body = Order),
        (status = 401, description = "No identity"),
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such order"),
        (status = 409, description = "The order is not CONFIRMED"),
    )
)]
pub async fn ship_order(
    State(state): State<AppState>,
    _admin: Admin,
    UuidPath(id, _): UuidPath<Order>,
) -> Result<axum::Json<Order>, OrderError> {
    advance(
        &state,
        id,
        OrderStatus::Confirmed,
        OrderStatus::Shipped,
        EventType::Shipped,
    )
    .await
}

/// Mark a SHIPPED order completed (admin).
#[utoipa::path(
    post,
    path = "/orders/{id}/complete",
    tag = "orders",
    params(("id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Completed (now or before)", body = Order),
        (status = 401, description = "No identity"),
        (status = 403, description = "Not an admin"),
        (status = 404, description = "No such order"),
        (status = 409, description = "The order is not SHIPPED"),
    )
)]
pub async fn complete_order(
    State(state): State<AppState>,
    _admin: Admin,
    UuidPath(id, _): UuidPath<Order>,
) -> Result<axum::Json<Order>, OrderError> {
    advance(
        &state,
        id,
        OrderStatus::Shipped,
        OrderStatus::Completed,
        EventType::Completed,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn raw(v: Value) -> OrderRequestRaw {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn validation_lists_every_problem() {
        let errors = raw(json!({
            "items": [{"product_id": "nope", "quantity": 0}, {"quantity": 2000}],
            "payment": {}
        }))
        .validate()
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "items[0].product_id",
                "items[0].quantity",
                "items[1].product_id",
                "items[1].quantity",
                "payment.token"
            ]
        );
    }

    #[test]
    fn duplicate_products_are_refused_and_items_sorted() {
        let a = "00000000-0000-0000-0000-00000000000a";
        let b = "00000000-0000-0000-0000-00000000000b";
        let ok = raw(json!({
            "items": [{"product_id": b, "quantity": 1}, {"product_id": a, "quantity": 2}],
            "payment": {"token": "tok_visa"}
        }))
        .validate()
        .unwrap();
        assert_eq!(ok.items[0].0.to_string(), a);
        let dup = raw(json!({
            "items": [{"product_id": a, "quantity": 1}, {"product_id": a, "quantity": 2}],
            "payment": {"token": "tok_visa"}
        }))
        .validate()
        .unwrap_err();
        assert_eq!(dup[0].field, "items[1].product_id");
    }
}
