//! Hostile text (NUL and other control characters, very long strings, invalid escapes, bytes
//! that are not UTF-8) in every string parameter and field of every operation the published
//! OpenAPI document lists, through the real service{% if db %} on a real database{% endif %}: a 4xx
//! problem+json or a success, never a 5xx.

use crate::helpers::*;

#[tokio::test]
async fn hostile_text_anywhere_is_a_4xx_problem_never_a_5xx() {
    let app = spawn_app().await;
{% if db %}
    let item = app.create("hostile fixture").await;
    let fixtures = [("id", item["id"].as_str().unwrap().to_owned())];
{% else %}
    let fixtures: [(&str, String); 0] = [];
{% endif %}
    let sent = testkit::hostile::assert_hostile_input_is_refused(
        {{ crate }}::SERVICE,
        &app.address,
        &fixtures,
        |rb| {
            testkit::identity::as_caller(
                rb,
                {{ crate }}::SERVICE,
                "6a1d3c0e-6a3b-4e6e-9a2d-0f5f2a1b9c01",
                "user,admin",
            )
        },
    )
    .await;
{% if db %}
    assert!(sent > 50, "{sent} requests");
{% else %}
    // No route takes text yet: this covers the ones added later.
    println!("{sent} hostile requests");
{% endif %}
}
