use crate::helpers::*;
use reqwest::Method;
use serde_json::{json, Value};
use uuid::Uuid;

#[tokio::test]
async fn me_needs_the_gateways_identity_and_bare_identity_headers_are_401() {
    let app = spawn_app().await;
    let id = app.create_user("me@example.com").await;

    let response = app
        .as_user(Method::GET, "/users/me", id, "user")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["id"], id.to_string());
    assert_eq!(body["email"], "me@example.com");
    assert!(body.get("password_hash").is_none());

    let response = app.client.get(app.url("/users/me")).send().await.unwrap();
    let body = problem(response, 401).await;
    assert_eq!(body["title"], "Unauthorized");
    let response = app
        .client
        .get(app.url("/users/me"))
        .header("x-user-id", "not-a-uuid")
        .send()
        .await
        .unwrap();
    problem(response, 401).await;
    // Bare identity headers are not trusted, whoever they name (issue #12: from the host, a
    // service's bridge address answered `x-user-roles: user,admin` with admin data).
    let response = app
        .client
        .get(app.url("/users"))
        .header("x-user-id", id.to_string())
        .header("x-user-roles", "user,admin")
        .send()
        .await
        .unwrap();
    let body = problem(response, 401).await;
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("signed x-identity"),
        "{body}"
    );
    // A well-formed id of an account that is gone.
    let response = app
        .as_user(Method::GET, "/users/me", Uuid::new_v4(), "user")
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
}

#[tokio::test]
async fn admin_lists_users_in_pages_others_get_403() {
    let app = spawn_app().await;
    let admin = app.admin_id().await;
    let mut ids = vec![admin];
    for i in 0..4 {
        ids.push(app.create_user(&format!("user{i}@example.com")).await);
    }

    let page = |query: &'static str| {
        app.as_user(Method::GET, &format!("/users{query}"), admin, "user,admin")
            .send()
    };
    let body: Value = page("?page=2&per_page=2")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["page"], 2);
    assert_eq!(body["per_page"], 2);
    assert_eq!(body["total"], 5);
    let items: Vec<String> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        items,
        [ids[2].to_string(), ids[3].to_string()],
        "oldest first"
    );
    assert!(body["items"][0].get("password_hash").is_none());

    let body: Value = page("?page=3&per_page=2")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let body: Value = page("?page=9&per_page=2")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["items"], json!([]));
    assert_eq!(body["total"], 5);
    let body: Value = page("").await.unwrap().json().await.unwrap();
    assert_eq!(
        (body["page"].clone(), body["per_page"].clone()),
        (json!(1), json!(20))
    );
    assert_eq!(body["items"].as_array().unwrap().len(), 5);
    let body: Value = page("?per_page=100").await.unwrap().json().await.unwrap();
    assert_eq!(body["per_page"], 100);

    let body = problem(page("?page=0&per_page=101").await.unwrap(), 422).await;
    assert_eq!(error_fields(&body), ["page", "per_page"]);
    problem(page("?per_page=abc").await.unwrap(), 422).await;

    // A plain user may not list; without identity it is a 401.
    let response = app
        .as_user(Method::GET, "/users", ids[1], "user")
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    let response = app.client.get(app.url("/users")).send().await.unwrap();
    problem(response, 401).await;
}

#[tokio::test]
async fn users_update_themselves_but_not_others() {
    let app = spawn_app().await;
    let alice = app.create_user("alice@example.com").await;
    let bob = app.create_user("bob@example.com").await;

    let response = app
        .as_user(Method::PUT, &format!("/users/{alice}"), alice, "user")
        .json(&json!({"name": "Alice Liddell", "email": "Alice@Wonderland.example", "password": "new-password-2"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["name"], "Alice Liddell");
    assert_eq!(body["email"], "alice@wonderland.example");
    assert_eq!(body["roles"], json!(["user"]));
    assert_ne!(body["updated_at"], body["created_at"]);
    // The new password works, the old one no longer does.
    app.token("alice@wonderland.example", "new-password-2")
        .await;
    problem(app.login("alice@wonderland.example", PASSWORD).await, 401).await;

    // Not Bob's account: 403 for reading, updating, deleting; even an unknown id says 403.
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let response = app
            .as_user(method.clone(), &format!("/users/{bob}"), alice, "user")
            .json(&json!({"name": "Hacked"}))
            .send()
            .await
            .unwrap();
        problem(response, 403).await;
    }
    let response = app
        .as_user(
            Method::GET,
            &format!("/users/{}", Uuid::new_v4()),
            alice,
            "user",
        )
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    let name: String = sqlx::query_scalar("SELECT name FROM users WHERE id = $1")
        .bind(bob)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(name, "Test User");

    // Validation as at registration; a taken email is a 409.
    let response = app
        .as_user(Method::PUT, &format!("/users/{alice}"), alice, "user")
        .json(&json!({"name": "", "email": "nope", "password": "short"}))
        .send()
        .await
        .unwrap();
    let body = problem(response, 422).await;
    assert_eq!(error_fields(&body), ["email", "name", "password"]);
    let response = app
        .as_user(Method::PUT, &format!("/users/{alice}"), alice, "user")
        .json(&json!({"email": "BOB@example.com"}))
        .send()
        .await
        .unwrap();
    problem(response, 409).await;

    // A user may not change roles, not even their own.
    let response = app
        .as_user(Method::PUT, &format!("/users/{alice}"), alice, "user")
        .json(&json!({"roles": ["user", "admin"]}))
        .send()
        .await
        .unwrap();
    problem(response, 403).await;
    let roles: Vec<String> = sqlx::query_scalar("SELECT roles FROM users WHERE id = $1")
        .bind(alice)
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(roles, ["user"]);
}

#[tokio::test]
async fn admins_manage_any_account_and_roles() {
    let app = spawn_app().await;
    let admin = app.admin_id().await;
    let carol = app.create_user("carol@example.com").await;
    let path = format!("/users/{carol}");

    let response = app
        .as_user(Method::GET, &path, admin, "user,admin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    let response = app
        .as_user(Method::PUT, &path, admin, "user,admin")
        .json(&json!({"roles": ["admin", "user"], "name": "Carol (admin)"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["roles"], json!(["user", "admin"]));
    assert_eq!(body["name"], "Carol (admin)");
    // Her next token says so.
    let token = app.token("carol@example.com", PASSWORD).await;
    assert_eq!(app.verify(&token).await.claims.roles, ["user", "admin"]);

    // Roles must be known and include "user".
    for roles in [json!(["admin"]), json!(["user", "root"]), json!([])] {
        let response = app
            .as_user(Method::PUT, &path, admin, "user,admin")
            .json(&json!({"roles": roles}))
            .send()
            .await
            .unwrap();
        let body = problem(response, 422).await;
        assert_eq!(error_fields(&body), ["roles"]);
    }
    let response = app
        .as_user(Method::PUT, &path, admin, "user,admin")
        .json(&json!({"roles": ["user"]}))
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["roles"], json!(["user"]));

    // Unknown ids are 404s for an admin (a malformed id too).
    for id in [Uuid::new_v4().to_string(), "42".to_string()] {
        for method in [Method::GET, Method::PUT, Method::DELETE] {
            let response = app
                .as_user(method, &format!("/users/{id}"), admin, "user,admin")
                .json(&json!({}))
                .send()
                .await
                .unwrap();
            problem(response, 404).await;
        }
    }
}

#[tokio::test]
async fn delete_by_self_and_by_admin() {
    let app = spawn_app().await;
    let admin = app.admin_id().await;
    let dave = app.create_user("dave@example.com").await;
    let erin = app.create_user("erin@example.com").await;

    let response = app
        .as_user(Method::DELETE, &format!("/users/{dave}"), dave, "user")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    problem(app.login("dave@example.com", PASSWORD).await, 401).await;
    let response = app
        .as_user(Method::GET, "/users/me", dave, "user")
        .send()
        .await
        .unwrap();
    problem(response, 404).await;

    let response = app
        .as_user(
            Method::DELETE,
            &format!("/users/{erin}"),
            admin,
            "user,admin",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 204);
    let response = app
        .as_user(
            Method::DELETE,
            &format!("/users/{erin}"),
            admin,
            "user,admin",
        )
        .send()
        .await
        .unwrap();
    problem(response, 404).await;
    // The email is free again.
    app.create_user("erin@example.com").await;
}

/// The last admin account could once delete itself or drop its admin role, leaving a stack no
/// one can administer: both are 409 problems now, also when two admins remove each other at once.
#[tokio::test]
async fn the_last_admin_can_be_neither_deleted_nor_demoted() {
    let app = spawn_app().await;
    let admin = app.admin_id().await;
    let own = format!("/users/{admin}");
    let last_admin =
        |body: &Value| assert_eq!(body["type"], "https://msctl.dev/problems/last-admin");
    let r = app
        .as_user(Method::DELETE, &own, admin, "user,admin")
        .send()
        .await
        .unwrap();
    last_admin(&problem(r, 409).await);
    let demote = json!({"roles": ["user"]});
    let r = app
        .as_user(Method::PUT, &own, admin, "user,admin")
        .json(&demote)
        .send()
        .await
        .unwrap();
    last_admin(&problem(r, 409).await);
    let r = app
        .as_user(Method::GET, &own, admin, "user,admin")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.json::<Value>().await.unwrap()["roles"],
        json!(["user", "admin"])
    );

    // With a second admin, either may go, but not both at once.
    let carol = app.create_user("carol@example.com").await;
    let promote = json!({"roles": ["user", "admin"]});
    let path = format!("/users/{carol}");
    let r = app
        .as_user(Method::PUT, &path, admin, "user,admin")
        .json(&promote)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (a, c) = tokio::join!(
        app.as_user(Method::DELETE, &path, admin, "user,admin")
            .send(),
        app.as_user(Method::DELETE, &own, carol, "user,admin")
            .send(),
    );
    let mut statuses = [a.unwrap().status().as_u16(), c.unwrap().status().as_u16()];
    statuses.sort();
    assert_eq!(
        statuses,
        [204, 409],
        "exactly one of the two admins is removed"
    );
}
