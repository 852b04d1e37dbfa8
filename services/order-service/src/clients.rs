//! Calls to the product and payment services. Every call carries the current trace and request
//! id, and is idempotent by order id on the other side, so the saga may repeat any of them.
//!
//! Outcomes are split in two: an answer (the other service decided: 2xx or 4xx) and
//! [`Transient`] (no decision: unreachable, timed out, 5xx, 429), which the saga retries until the
//! order's deadline.

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// No decision was made; retrying may succeed.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Transient {
    pub message: String,
    /// The request certainly never reached the other service (the connection was refused).
    pub not_sent: bool,
}

impl Transient {
    pub fn new(message: impl Into<String>) -> Transient {
        Transient {
            message: message.into(),
            not_sent: false,
        }
    }
}

#[derive(Clone)]
pub struct Clients {
    http: reqwest::Client,
    products: String,
    payments: String,
}

/// What the product service said to a reservation.
#[derive(Debug, PartialEq)]
pub enum Reserve {
    Reserved,
    /// Insufficient stock or unknown product: nothing was reserved.
    Refused(String),
}

/// What the payment service said to a charge.
#[derive(Debug, PartialEq)]
pub enum Charge {
    Succeeded(Uuid),
    Declined(String),
}

#[derive(Deserialize)]
struct Payment {
    id: Uuid,
    status: String,
    #[serde(default)]
    decline_reason: Option<String>,
}

#[derive(Deserialize)]
struct Product {
    price: Decimal,
}

fn transient(e: reqwest::Error) -> Transient {
    Transient {
        message: if e.is_timeout() {
            format!("timed out: {}", e.url().map(|u| u.as_str()).unwrap_or(""))
        } else {
            e.to_string()
        },
        not_sent: e.is_connect(),
    }
}

async fn detail(response: reqwest::Response) -> String {
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    body.get("detail")
        .or_else(|| body.get("title"))
        .and_then(|d| d.as_str())
        .map(|d| format!("{status}: {d}"))
        .unwrap_or_else(|| status.to_string())
}

fn decided(status: reqwest::StatusCode) -> bool {
    status.is_success()
        || (status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS)
}

impl Clients {
    pub fn new(products: &str, payments: &str, timeout: Duration) -> Clients {
        Clients {
            http: reqwest::Client::builder()
                .timeout(timeout)
                .connect_timeout(Duration::from_secs(2))
                .build()
                .expect("HTTP client"),
            products: products.trim_end_matches('/').to_owned(),
            payments: payments.trim_end_matches('/').to_owned(),
        }
    }

    async fn post(
        &self,
        url: String,
        body: Option<serde_json::Value>,
    ) -> Result<reqwest::Response, Transient> {
        let mut request = self.http.post(&url).headers(kit::trace::outgoing_headers());
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(transient)?;
        if decided(response.status()) {
            Ok(response)
        } else {
            Err(Transient::new(format!("{url}: {}", detail(response).await)))
        }
    }

    /// The current price of a product; `None` when there is no such product.
    pub async fn price(&self, product_id: Uuid) -> Result<Option<Decimal>, Transient> {
        let url = format!("{}/products/{product_id}", self.products);
        let response = self
            .http
            .get(&url)
            .headers(kit::trace::outgoing_headers())
            .send()
            .await
            .map_err(transient)?;
        match response.status() {
            s if s.is_success() => {
                let product: Product = response.json().await.map_err(transient)?;
                Ok(Some(product.price))
            }
            reqwest::StatusCode::NOT_FOUND => Ok(None),
            _ => Err(Transient::new(format!("{url}: {}", detail(response).await))),
        }
    }

    pub async fn reserve(
        &self,
        order_id: Uuid,
        items: &[(Uuid, i32)],
    ) -> Result<Reserve, Transient> {
        let items: Vec<_> = items
            .iter()
            .map(|(product_id, quantity)| json!({"product_id": product_id, "quantity": quantity}))
            .collect();
        let response = self
            .post(
                format!("{}/stock/reservations", self.products),
                Some(json!({"order_id": order_id, "items": items})),
            )
            .await?;
        if response.status().is_success() {
            Ok(Reserve::Reserved)
        } else {
            Ok(Reserve::Refused(detail(response).await))
        }
    }

    /// Commits the reservation. `Ok(false)`: it cannot be committed (it was released).
    pub async fn commit(&self, order_id: Uuid) -> Result<bool, Transient> {
        let response = self
            .post(
                format!("{}/stock/reservations/{order_id}/commit", self.products),
                None,
            )
            .await?;
        Ok(response.status().is_success())
    }

    /// Gives the order's stock back, whatever state its reservation is in: releases a reserved
    /// one, returns a committed one; no reservation at all is fine too.
    pub async fn give_back_stock(&self, order_id: Uuid) -> Result<(), Transient> {
        let base = format!("{}/stock/reservations/{order_id}", self.products);
        let released = self.post(format!("{base}/release"), None).await?;
        match released.status() {
            s if s.is_success() => Ok(()),
            reqwest::StatusCode::NOT_FOUND => Ok(()),
            reqwest::StatusCode::CONFLICT => {
                let returned = self.post(format!("{base}/return"), None).await?;
                if returned.status().is_success() {
                    Ok(())
                } else {
                    Err(Transient::new(format!(
                        "{base}/return: {}",
                        detail(returned).await
                    )))
                }
            }
            _ => Err(Transient::new(format!(
                "{base}/release: {}",
                detail(released).await
            ))),
        }
    }

    pub async fn charge(
        &self,
        order_id: Uuid,
        amount: Decimal,
        currency: &str,
        token: &str,
    ) -> Result<Charge, Transient> {
        let response = self
            .post(
                format!("{}/payments", self.payments),
                Some(json!({
                    "order_id": order_id,
                    "amount": amount.to_string(),
                    "currency": currency,
                    "token": token,
                })),
            )
            .await?;
        if !response.status().is_success() {
            // Invalid token or a conflicting earlier charge: the payment cannot be taken.
            return Ok(Charge::Declined(detail(response).await));
        }
        let payment: Payment = response.json().await.map_err(transient)?;
        Ok(match payment.status.as_str() {
            "succeeded" => Charge::Succeeded(payment.id),
            // A refunded payment for this order means the order was charged and compensated
            // before; it must not be confirmed now.
            other => Charge::Declined(payment.decline_reason.unwrap_or_else(|| other.to_owned())),
        })
    }

    /// Refunds whatever succeeded payment the order has (idempotent on the payment side).
    pub async fn refund_order(&self, order_id: Uuid) -> Result<(), Transient> {
        let url = format!("{}/payments?order_id={order_id}", self.payments);
        let response = self
            .http
            .get(&url)
            .headers(kit::trace::outgoing_headers())
            .send()
            .await
            .map_err(transient)?;
        if !response.status().is_success() {
            return Err(Transient::new(format!("{url}: {}", detail(response).await)));
        }
        let payments: Vec<Payment> = response.json().await.map_err(transient)?;
        for payment in payments.iter().filter(|p| p.status == "succeeded") {
            let refund = self
                .post(
                    format!("{}/payments/{}/refund", self.payments, payment.id),
                    None,
                )
                .await?;
            if !refund.status().is_success() {
                return Err(Transient::new(format!(
                    "refund {}: {}",
                    payment.id,
                    detail(refund).await
                )));
            }
        }
        Ok(())
    }
}
