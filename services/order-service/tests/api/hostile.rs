//! Issue #12: hostile text (NUL and other control characters, very long strings, invalid
//! escapes, bytes that are not UTF-8) in every string parameter and field of every operation the
//! published OpenAPI document lists, through the real service on a real database: a 4xx
//! problem+json or a success, never a 5xx.

use crate::helpers::*;

#[tokio::test]
async fn hostile_text_anywhere_is_a_4xx_problem_never_a_5xx() {
    let app = spawn_app().await;
    // A product in stock, so an order with hostile text gets as far as being stored.
    let product = app.product("2.00", 1000).await;
    let sent = testkit::hostile::assert_hostile_input_is_refused(
        order_service::config::SERVICE,
        &app.orders.address,
        &[("product_id", product.to_string())],
        as_admin,
    )
    .await;
    assert!(sent > 100, "{sent} requests");
}
