//! The HTTP API's guards: identity (401/403), pagination and filters (422), health.

use crate::helpers::*;
use serde_json::Value;
use uuid::Uuid;

#[tokio::test]
async fn no_identity_is_401() {
    let app = spawn_app().await;
    for path in ["/notifications", "/notifications/dead-letters"] {
        problem(app.get(path).await, 401).await;
        let r = app
            .client
            .get(app.url(path))
            .header("x-user-id", "not-a-uuid")
            .header("x-user-roles", "user,admin")
            .send()
            .await
            .unwrap();
        problem(r, 401).await;
    }
}

#[tokio::test]
async fn dead_letters_are_for_admins_only() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    problem(
        app.get_as("/notifications/dead-letters", user, "user")
            .await,
        403,
    )
    .await;
    let r = app
        .get_as("/notifications/dead-letters", user, "user,admin")
        .await;
    assert_eq!(r.status(), 200);
    let page: Value = r.json().await.unwrap();
    assert_eq!(
        page,
        serde_json::json!({"items": [], "page": 1, "per_page": 20, "total": 0})
    );
}

#[tokio::test]
async fn notifications_need_the_user_role() {
    let app = spawn_app().await;
    problem(app.get_as("/notifications", Uuid::new_v4(), "").await, 403).await;
    let page = app.page("/notifications", Uuid::new_v4()).await;
    assert_eq!(
        page,
        serde_json::json!({"items": [], "page": 1, "per_page": 20, "total": 0})
    );
}

#[tokio::test]
async fn bad_paging_and_filters_are_422_naming_each_field() {
    let app = spawn_app().await;
    let user = Uuid::new_v4();
    let p = problem(
        app.get_as(
            "/notifications?page=0&per_page=101&order_id=nope",
            user,
            "user",
        )
        .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["order_id", "page", "per_page"]);
    for query in ["per_page=abc", "per_page=0", "per_page=-1", "page=x"] {
        let p = problem(
            app.get_as(&format!("/notifications?{query}"), user, "user")
                .await,
            422,
        )
        .await;
        assert_eq!(fields(&p).len(), 1, "{query}");
    }
    let p = problem(
        app.get_as("/notifications/dead-letters?per_page=1000", user, "admin")
            .await,
        422,
    )
    .await;
    assert_eq!(fields(&p), ["per_page"]);
    let page = app.page("/notifications?per_page=100&page=3", user).await;
    assert_eq!(
        (page["page"].as_u64(), page["per_page"].as_u64()),
        (Some(3), Some(100))
    );
}

#[tokio::test]
async fn ready_when_the_database_answers() {
    let app = spawn_app().await;
    assert_eq!(app.get("/health/ready").await.status(), 200);
    assert_eq!(app.get("/health/live").await.status(), 200);
    problem(app.get("/nope").await, 404).await;
}
