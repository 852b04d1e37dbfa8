{% if db %}
//! Items over real HTTP on a real database: create, read, list (paged), replace, delete, and
//! the errors (validation, unknown ids, bad JSON{% if access != "public" %}, no identity{% endif %}).

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

#[tokio::test]
async fn an_item_is_created_read_listed_replaced_and_deleted() {
    let app = spawn_app().await;
    let r = app
        .post(
            "{{ route }}",
            &json!({"name": "  First item ", "description": "made by a test"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let item: Value = r.json().await.unwrap();
    let id = item["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("{{ route }}/{id}"));
    assert_eq!(item["name"], "First item");
    assert_eq!(item["description"], "made by a test");
    assert!(item["created_at"].is_string() && item["updated_at"].is_string());

    let r = app.get(&location).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap(), item);

    let page: Value = app.get("{{ route }}").await.json().await.unwrap();
    assert_eq!(page["total"], 1);
    assert_eq!(page["page"], 1);
    assert_eq!(page["per_page"], 20);
    assert_eq!(page["items"], json!([item]));

    // A replace writes every field: the description is gone. The item as read may be sent back.
    let mut changed = item.clone();
    changed["name"] = json!("Renamed");
    changed.as_object_mut().unwrap().remove("description");
    let r = app.put(&location, &changed).await;
    assert_eq!(r.status(), StatusCode::OK);
    let replaced: Value = r.json().await.unwrap();
    assert_eq!(replaced["id"], item["id"]);
    assert_eq!(replaced["name"], "Renamed");
    assert_eq!(replaced["description"], "");
    assert_eq!(replaced["created_at"], item["created_at"]);
    assert_eq!(
        app.get(&location).await.json::<Value>().await.unwrap(),
        replaced
    );

    let r = app.delete(&location).await;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(app.get(&location).await, 404).await;
    problem(app.delete(&location).await, 404).await;
    assert_eq!(app.count("items").await, 0);
}

#[tokio::test]
async fn pages_are_newest_first() {
    let app = spawn_app().await;
    for name in ["one", "two", "three"] {
        app.create(name).await;
    }
    let first: Value = app.get("{{ route }}?per_page=2").await.json().await.unwrap();
    assert_eq!(first["total"], 3);
    assert_eq!(first["per_page"], 2);
    let names: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["three", "two"]);
    let second: Value = app
        .get("{{ route }}?per_page=2&page=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(second["items"][0]["name"], "one");
    assert_eq!(second["items"].as_array().unwrap().len(), 1);
    let beyond: Value = app
        .get("{{ route }}?page=3&per_page=2")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(beyond["items"], json!([]));
    assert_eq!(beyond["total"], 3);
}

#[tokio::test]
async fn bad_paging_is_a_422_naming_each_parameter() {
    let app = spawn_app().await;
    let p = problem(app.get("{{ route }}?page=0&per_page=101").await, 422).await;
    assert_eq!(fields(&p), ["page", "per_page"]);
    let p = problem(app.get("{{ route }}?page=x").await, 422).await;
    assert_eq!(fields(&p), ["page"]);
}

#[tokio::test]
async fn validation_lists_every_bad_field_and_stores_nothing() {
    let app = spawn_app().await;
    let p = problem(app.post("{{ route }}", &json!({})).await, 422).await;
    assert_eq!(fields(&p), ["name"]);
    let long = "x".repeat(2001);
    let body = json!({"name": "   ", "description": long, "colour": "red"});
    let p = problem(app.post("{{ route }}", &body).await, 422).await;
    assert_eq!(fields(&p), ["colour", "description", "name"]);
    let wrong_types = json!({"name": 42, "description": []});
    let p = problem(app.post("{{ route }}", &wrong_types).await, 422).await;
    assert_eq!(fields(&p), ["description", "name"]);
    let long_name = json!({"name": "x".repeat(201)});
    let p = problem(app.post("{{ route }}", &long_name).await, 422).await;
    assert_eq!(fields(&p), ["name"]);
    // A replace is validated the same way.
    let item = app.create("valid").await;
    let path = format!("{{ route }}/{}", item["id"].as_str().unwrap());
    let p = problem(app.put(&path, &json!({"name": ""})).await, 422).await;
    assert_eq!(fields(&p), ["name"]);
    assert_eq!(app.count("items").await, 1);
}

#[tokio::test]
async fn malformed_or_non_json_bodies_are_4xx_problems() {
    let app = spawn_app().await;
    let raw = |content_type: &'static str, body: &'static str| {
        app.client
            .post(app.url("{{ route }}"))
{% if access != "public" %}
            .header(
                kit::identity::TOKEN_HEADER,
                identity(Uuid::new_v4(), CALLER_ROLES),
            )
{% endif %}
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    problem(raw("application/json", "{\"name\":").await.unwrap(), 400).await;
    problem(raw("text/plain", "name=x").await.unwrap(), 415).await;
    assert_eq!(app.count("items").await, 0);
}

#[tokio::test]
async fn unknown_items_are_404_problems() {
    let app = spawn_app().await;
    let unknown = format!("{{ route }}/{}", Uuid::new_v4());
    problem(app.get(&unknown).await, 404).await;
    problem(app.get("{{ route }}/not-a-uuid").await, 404).await;
    problem(app.put(&unknown, &json!({"name": "x"})).await, 404).await;
    problem(app.delete(&unknown).await, 404).await;
    problem(app.delete("{{ route }}/not-a-uuid").await, 404).await;
}
{% if access != "public" %}

#[tokio::test]
async fn writes_need_the_gateways_identity_reads_do_not() {
    let app = spawn_app().await;
    let item = app.create("guarded").await;
    let path = format!("{{ route }}/{}", item["id"].as_str().unwrap());
    let anonymous = |method: reqwest::Method, path: &str| {
        app.client
            .request(method, app.url(path))
            .json(&json!({"name": "x"}))
            .send()
    };
    for (method, path) in [
        (reqwest::Method::POST, "{{ route }}"),
        (reqwest::Method::PUT, path.as_str()),
        (reqwest::Method::DELETE, path.as_str()),
    ] {
        problem(anonymous(method, path).await.unwrap(), 401).await;
    }
    // Bare identity headers are not an identity.
    let bare = app
        .client
        .delete(app.url(&path))
        .header("x-user-id", Uuid::new_v4().to_string())
        .header("x-user-roles", "user,admin")
        .send()
        .await
        .unwrap();
    problem(bare, 401).await;
{% if access == "admin" %}
    // A signed-in caller without the admin role.
    let user = app
        .client
        .delete(app.url(&path))
        .header(
            kit::identity::TOKEN_HEADER,
            identity(Uuid::new_v4(), "user"),
        )
        .send()
        .await
        .unwrap();
    problem(user, 403).await;
{% endif %}
    assert_eq!(app.get(&path).await.status(), StatusCode::OK);
    assert_eq!(app.get("{{ route }}").await.status(), StatusCode::OK);
    assert_eq!(app.count("items").await, 1);
}
{% endif %}
{% endif %}
