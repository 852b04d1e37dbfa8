//! Issue #12: hostile text (NUL and other control characters, very long strings, invalid
//! escapes, bytes that are not UTF-8) in every string parameter and field of every operation the
//! published OpenAPI document lists, through the real service on a real database: a 4xx
//! problem+json or a success, never a 5xx.

use crate::helpers::*;

#[tokio::test]
async fn hostile_text_anywhere_is_a_4xx_problem_never_a_5xx() {
    let app = spawn_app().await;
    let admin = app.admin_id().await;
    // Path ids name a user of the test's own, never the admin.
    let someone = app.create_user("someone@example.com").await;
    let sent = testkit::hostile::assert_hostile_input_is_refused(
        user_service::config::SERVICE,
        &app.address,
        &[("id", someone.to_string())],
        |rb| rb.header(kit::identity::TOKEN_HEADER, identity(admin, "user,admin")),
    )
    .await;
    assert!(sent > 100, "{sent} requests");
}
