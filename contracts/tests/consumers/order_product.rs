//! order-service → product-service: what the checkout saga asks of the stock, through
//! `order_service::clients::Clients` (the saga's own client).

use crate::ids::id;
use crate::{pact, problem, PROBLEM_JSON};
use order_service::clients::{Clients, Reserve};
use pact_consumer::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn order_service_uses_product_service_for_prices_and_reservations() {
    let product = id(1);
    let unknown = id(2);
    let (reserved, short, missing, held, released, committed) =
        (id(11), id(12), id(13), id(14), id(15), id(16));
    let stock =
        |product_id, stock| json!({"product_id": product_id, "stock": stock, "price": "19.99"});
    let mut builder = pact("order-service", "product-service");
    builder
        .interaction("the price of a product", "", |mut i| {
            i.given_with_params("a product with stock", &stock(product, 5));
            i.request.get().path(format!("/products/{product}"));
            i.response.ok().json_body(json_pattern!({
                "id": product.to_string(),
                // A decimal string: the saga computes the order's total from it.
                "price": term!(r"^\d+(\.\d{1,2})?$", "19.99"),
            }));
            i
        })
        .interaction("the price of an unknown product", "", |mut i| {
            i.given_with_params("no such product", &json!({"product_id": unknown}));
            i.request.get().path(format!("/products/{unknown}"));
            i.response.not_found();
            i
        })
        .interaction("a reservation within the stock", "", |mut i| {
            i.given_with_params("a product with stock", &stock(product, 5));
            i.request
                .post()
                .path("/stock/reservations")
                .content_type("application/json")
                .json_body(json!({
                    "order_id": reserved,
                    "items": [{"product_id": product, "quantity": 2}],
                }));
            i.response.created();
            i
        })
        .interaction("a reservation beyond the stock", "", |mut i| {
            i.given_with_params("a product with stock", &stock(product, 1));
            i.request
                .post()
                .path("/stock/reservations")
                .content_type("application/json")
                .json_body(json!({
                    "order_id": short,
                    "items": [{"product_id": product, "quantity": 5}],
                }));
            i.response
                .status(409)
                .content_type(PROBLEM_JSON)
                .json_body(problem(409));
            i
        })
        .interaction("a reservation of an unknown product", "", |mut i| {
            i.given_with_params("no such product", &json!({"product_id": unknown}));
            i.request
                .post()
                .path("/stock/reservations")
                .content_type("application/json")
                .json_body(json!({
                    "order_id": missing,
                    "items": [{"product_id": unknown, "quantity": 1}],
                }));
            i.response
                .status(404)
                .content_type(PROBLEM_JSON)
                .json_body(problem(404));
            i
        })
        .interaction("committing a held reservation", "", |mut i| {
            i.given_with_params(
                "an order holds a reservation",
                &json!({"order_id": held, "product_id": product, "quantity": 2}),
            );
            i.request
                .post()
                .path(format!("/stock/reservations/{held}/commit"));
            i.response.ok();
            i
        })
        .interaction("releasing a held reservation", "", |mut i| {
            i.given_with_params(
                "an order holds a reservation",
                &json!({"order_id": released, "product_id": product, "quantity": 2}),
            );
            i.request
                .post()
                .path(format!("/stock/reservations/{released}/release"));
            i.response.ok();
            i
        })
        .interaction(
            "releasing a committed reservation is refused",
            "",
            |mut i| {
                i.given_with_params(
                    "an order's reservation is committed",
                    &json!({"order_id": committed, "product_id": product, "quantity": 2}),
                );
                i.request
                    .post()
                    .path(format!("/stock/reservations/{committed}/release"));
                i.response
                    .status(409)
                    .content_type(PROBLEM_JSON)
                    .json_body(problem(409));
                i
            },
        )
        .interaction("returning a committed reservation", "", |mut i| {
            i.given_with_params(
                "an order's reservation is committed",
                &json!({"order_id": committed, "product_id": product, "quantity": 2}),
            );
            i.request
                .post()
                .path(format!("/stock/reservations/{committed}/return"));
            i.response.ok();
            i
        });
    let server = builder.start_mock_server(None, None);
    let base = server.url().to_string();
    let clients = Clients::new(&base, "http://127.0.0.1:9", Duration::from_secs(5));

    let price = clients.price(product).await.expect("price");
    assert_eq!(price, Some("19.99".parse::<Decimal>().unwrap()));
    assert_eq!(clients.price(unknown).await.expect("answer"), None);
    assert_eq!(
        clients.reserve(reserved, &[(product, 2)]).await.unwrap(),
        Reserve::Reserved
    );
    assert!(matches!(
        clients.reserve(short, &[(product, 5)]).await.unwrap(),
        Reserve::Refused(_)
    ));
    assert!(matches!(
        clients.reserve(missing, &[(unknown, 1)]).await.unwrap(),
        Reserve::Refused(_)
    ));
    assert!(
        clients.commit(held).await.unwrap(),
        "a held reservation commits"
    );
    clients.give_back_stock(released).await.expect("released");
    // A committed reservation cannot be released: the saga returns it instead.
    clients.give_back_stock(committed).await.expect("returned");
    drop(server);
    crate::normalise("order-service", "product-service");
}
