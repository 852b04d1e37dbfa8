//! The email each order event sends: a subject and a plain-text body. An event type this
//! version does not know (the binding takes every `order.*`) still gets a generic status
//! notification rather than failing: the customer hears about the change either way.

use crate::events::OrderEvent;
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub subject: String,
    pub body: String,
}

/// The first 8 hex digits: enough for a customer to recognise the order in a sentence.
pub fn short_id(id: Uuid) -> String {
    id.simple().to_string()[..8].to_owned()
}

fn money(amount: Decimal, currency: &str) -> String {
    let mut amount = amount.round_dp(2);
    amount.rescale(2);
    format!("{amount} {currency}")
}

/// Why an order was cancelled, as a customer reads it.
pub fn cancellation_reason(reason: Option<&str>) -> &'static str {
    match reason {
        Some("out_of_stock") => "some items are out of stock",
        Some("payment_declined") => "the payment was declined",
        Some("cancelled_by_user") => "you cancelled it",
        Some("timeout") => "it could not be completed in time",
        _ => "of a problem on our side",
    }
}

pub fn render(event: &OrderEvent) -> Email {
    let data = &event.data;
    let order = short_id(data.order_id);
    let total = money(data.total_amount, &data.currency);
    let (subject, lead) = match event.kind.as_str() {
        "order.created" => (
            format!("We received your order {order}"),
            format!("We received your order {order}. Total: {total}. We will confirm it shortly."),
        ),
        "order.confirmed" => (
            format!("Your order {order} is confirmed"),
            format!("Your order {order} is confirmed. Total: {total}."),
        ),
        "order.cancelled" => {
            let reason = cancellation_reason(data.cancellation_reason.as_deref());
            (
                format!("Your order {order} was cancelled"),
                format!(
                    "Your order {order} was cancelled because {reason}. \
                     Any payment taken for it will be refunded."
                ),
            )
        }
        "order.shipped" => (
            format!("Your order {order} has shipped"),
            format!("Your order {order} has shipped and is on its way. Total: {total}."),
        ),
        "order.completed" => (
            format!("Your order {order} is complete"),
            format!("Your order {order} is complete. Thank you for shopping with us!"),
        ),
        _ => (
            format!("An update on your order {order}"),
            format!(
                "Your order {order} is now {}. Total: {total}.",
                data.status.to_lowercase()
            ),
        ),
    };
    let mut body = lead;
    if !data.items.is_empty() {
        body.push_str("\n\nItems:");
        for item in &data.items {
            body.push_str(&format!(
                "\n- {} x product {} at {}",
                item.quantity,
                short_id(item.product_id),
                money(item.price, &data.currency)
            ));
        }
    }
    Email { subject, body }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{Item, OrderData};

    fn event(kind: &str, reason: Option<&str>) -> OrderEvent {
        OrderEvent {
            id: Uuid::new_v4(),
            kind: kind.into(),
            occurred_at: chrono::Utc::now(),
            data: OrderData {
                order_id: Uuid::parse_str("1a2b3c4d-0000-4000-8000-000000000000").unwrap(),
                user_id: Uuid::new_v4(),
                status: "CONFIRMED".into(),
                total_amount: "39.98".parse().unwrap(),
                currency: "EUR".into(),
                items: vec![Item {
                    product_id: Uuid::parse_str("0badcafe-0000-4000-8000-000000000000").unwrap(),
                    quantity: 2,
                    price: "19.99".parse().unwrap(),
                }],
                cancellation_reason: reason.map(str::to_owned),
            },
        }
    }

    #[test]
    fn confirmed() {
        let email = render(&event("order.confirmed", None));
        assert_eq!(email.subject, "Your order 1a2b3c4d is confirmed");
        assert_eq!(
            email.body,
            "Your order 1a2b3c4d is confirmed. Total: 39.98 EUR.\n\nItems:\n- 2 x product 0badcafe at 19.99 EUR"
        );
    }

    #[test]
    fn every_type_has_its_text() {
        for (kind, expected) in [
            (
                "order.created",
                "We received your order 1a2b3c4d. Total: 39.98 EUR.",
            ),
            ("order.shipped", "Your order 1a2b3c4d has shipped"),
            ("order.completed", "Your order 1a2b3c4d is complete."),
            ("order.refunded", "Your order 1a2b3c4d is now confirmed."),
        ] {
            let email = render(&event(kind, None));
            assert!(email.body.starts_with(expected), "{kind}: {}", email.body);
        }
    }

    #[test]
    fn cancellations_say_why() {
        for (reason, expected) in [
            ("out_of_stock", "because some items are out of stock."),
            ("payment_declined", "because the payment was declined."),
            ("cancelled_by_user", "because you cancelled it."),
            ("timeout", "because it could not be completed in time."),
        ] {
            let email = render(&event("order.cancelled", Some(reason)));
            assert_eq!(email.subject, "Your order 1a2b3c4d was cancelled");
            assert!(email.body.contains(expected), "{reason}: {}", email.body);
        }
    }

    #[test]
    fn amounts_have_two_decimals() {
        assert_eq!(money("40".parse().unwrap(), "EUR"), "40.00 EUR");
        assert_eq!(money("0.5".parse().unwrap(), "USD"), "0.50 USD");
    }
}
