//! order-service → payment-service: charging for an order and compensating it, through
//! `order_service::clients::Clients` (the saga's own client).

use crate::ids::id;
use crate::pact;
use order_service::clients::{Charge, Clients};
use pact_consumer::prelude::*;
use serde_json::json;
use std::time::Duration;

const UUID: &str = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";

#[tokio::test]
async fn order_service_uses_payment_service_to_charge_and_refund() {
    let (charged, declined, refunded) = (id(21), id(22), id(23));
    let payment = id(31);
    let charge = |order_id, token| json!({"order_id": order_id, "amount": "39.98", "currency": "EUR", "token": token});
    let mut builder = pact("order-service", "payment-service");
    builder
        .interaction("a charge that succeeds", "", |mut i| {
            i.given_with_params("no payment for the order", &json!({"order_id": charged}));
            i.request
                .post()
                .path("/payments")
                .content_type("application/json")
                .json_body(charge(charged, "tok_visa"));
            i.response.created().json_body(json_pattern!({
                "id": term!(UUID, payment.to_string()),
                "status": "succeeded",
            }));
            i
        })
        .interaction("a charge that is declined", "", |mut i| {
            i.given_with_params("no payment for the order", &json!({"order_id": declined}));
            i.request
                .post()
                .path("/payments")
                .content_type("application/json")
                .json_body(charge(declined, "tok_declined"));
            i.response.created().json_body(json_pattern!({
                "id": term!(UUID, payment.to_string()),
                "status": "declined",
                // The order's cancellation says why.
                "decline_reason": like!("card_declined"),
            }));
            i
        })
        .interaction("the payments of an order", "", |mut i| {
            i.given_with_params(
                "an order has a succeeded payment",
                &json!({"order_id": refunded, "payment_id": payment}),
            );
            i.request
                .get()
                .path("/payments")
                .query_param("order_id", refunded.to_string());
            i.response.ok().json_body(each_like!(json_pattern!({
                "id": payment.to_string(),
                "status": "succeeded",
            })));
            i
        })
        .interaction("refunding a succeeded payment", "", |mut i| {
            i.given_with_params(
                "an order has a succeeded payment",
                &json!({"order_id": refunded, "payment_id": payment}),
            );
            i.request.post().path(format!("/payments/{payment}/refund"));
            i.response.ok();
            i
        });
    let server = builder.start_mock_server(None, None);
    let base = server.url().to_string();
    let clients = Clients::new("http://127.0.0.1:9", &base, Duration::from_secs(5));

    let amount = "39.98".parse().unwrap();
    assert_eq!(
        clients
            .charge(charged, amount, "EUR", "tok_visa")
            .await
            .unwrap(),
        Charge::Succeeded(payment)
    );
    assert_eq!(
        clients
            .charge(declined, amount, "EUR", "tok_declined")
            .await
            .unwrap(),
        Charge::Declined("card_declined".into())
    );
    // Compensation: list the order's payments, refund each succeeded one.
    clients.refund_order(refunded).await.expect("refunded");
    drop(server);
    crate::normalise("order-service", "payment-service");
}
