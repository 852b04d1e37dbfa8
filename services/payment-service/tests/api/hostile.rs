//! Issue #12: hostile text (NUL and other control characters, very long strings, invalid
//! escapes, bytes that are not UTF-8) in every string parameter and field of every operation the
//! published OpenAPI document lists, through the real service on a real database: a 4xx
//! problem+json or a success, never a 5xx.

use crate::helpers::*;

#[tokio::test]
async fn hostile_text_anywhere_is_a_4xx_problem_never_a_5xx() {
    let app = spawn_app().await;
    let sent = testkit::hostile::assert_hostile_input_is_refused(
        payment_service::config::SERVICE,
        &app.address,
        &[],
        |rb| {
            testkit::identity::as_caller(
                rb,
                payment_service::config::SERVICE,
                "6a1d3c0e-6a3b-4e6e-9a2d-0f5f2a1b9c01",
                "user,admin",
            )
        },
    )
    .await;
    assert!(sent > 50, "{sent} requests");
}
