//! The catalogue: listing, filters, pagination, sorting, get, admin writes, validation.

use crate::helpers::*;
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn five_products(app: &TestApp) {
    for (name, price, category, tags) in [
        ("Alpha Kettle", "10.00", "kitchen", vec!["tea", "steel"]),
        ("Bravo Book", "5.50", "books", vec!["fiction"]),
        ("Charlie Pan", "30", "kitchen", vec!["steel"]),
        (
            "Delta Novel",
            "12.00",
            "books",
            vec!["fiction", "paperback"],
        ),
        ("Echo Ball", "20.00", "toys", vec!["outdoor"]),
    ] {
        app.create(
            json!({"name": name, "price": price, "stock": 5, "category": category,
                          "tags": tags, "description": format!("All about {name}")}),
        )
        .await;
    }
}

#[tokio::test]
async fn lists_with_filters() {
    let app = spawn_app().await;
    five_products(&app).await;

    let page = app.get_json("/products").await;
    assert_eq!(page["total"], 5);
    assert_eq!(page["page"], 1);
    assert_eq!(page["per_page"], 20);
    // Default order is by name; money is a decimal string with two decimals.
    assert_eq!(
        names(&page),
        [
            "Alpha Kettle",
            "Bravo Book",
            "Charlie Pan",
            "Delta Novel",
            "Echo Ball"
        ]
    );
    assert_eq!(page["items"][2]["price"], "30.00");
    assert_eq!(page["items"][0]["tags"], json!(["tea", "steel"]));

    for (query, expected) in [
        ("category=kitchen", vec!["Alpha Kettle", "Charlie Pan"]),
        ("category=garden", vec![]),
        ("tag=steel", vec!["Alpha Kettle", "Charlie Pan"]),
        (
            "tag=fiction&category=books",
            vec!["Bravo Book", "Delta Novel"],
        ),
        ("tag=paperback", vec!["Delta Novel"]),
        // Price bounds are inclusive.
        (
            "min_price=12",
            vec!["Charlie Pan", "Delta Novel", "Echo Ball"],
        ),
        ("max_price=10.00", vec!["Alpha Kettle", "Bravo Book"]),
        (
            "min_price=10&max_price=20",
            vec!["Alpha Kettle", "Delta Novel", "Echo Ball"],
        ),
        (
            "min_price=10&max_price=20&category=books",
            vec!["Delta Novel"],
        ),
        ("category=kitchen&min_price=10.5", vec!["Charlie Pan"]),
    ] {
        let page = app.get_json(&format!("/products?{query}")).await;
        assert_eq!(names(&page), expected, "{query}");
        assert_eq!(page["total"], expected.len(), "{query}");
    }
}

#[tokio::test]
async fn sorts_and_paginates() {
    let app = spawn_app().await;
    five_products(&app).await;

    for (sort, expected) in [
        (
            "price",
            [
                "Bravo Book",
                "Alpha Kettle",
                "Delta Novel",
                "Echo Ball",
                "Charlie Pan",
            ],
        ),
        (
            "-price",
            [
                "Charlie Pan",
                "Echo Ball",
                "Delta Novel",
                "Alpha Kettle",
                "Bravo Book",
            ],
        ),
        (
            "name",
            [
                "Alpha Kettle",
                "Bravo Book",
                "Charlie Pan",
                "Delta Novel",
                "Echo Ball",
            ],
        ),
        (
            "-name",
            [
                "Echo Ball",
                "Delta Novel",
                "Charlie Pan",
                "Bravo Book",
                "Alpha Kettle",
            ],
        ),
        // Created in the order of `five_products`.
        (
            "created_at",
            [
                "Alpha Kettle",
                "Bravo Book",
                "Charlie Pan",
                "Delta Novel",
                "Echo Ball",
            ],
        ),
        (
            "-created_at",
            [
                "Echo Ball",
                "Delta Novel",
                "Charlie Pan",
                "Bravo Book",
                "Alpha Kettle",
            ],
        ),
    ] {
        let page = app.get_json(&format!("/products?sort={sort}")).await;
        assert_eq!(names(&page), expected, "sort={sort}");
    }

    let mut seen = Vec::new();
    for (page_no, count) in [(1, 2), (2, 2), (3, 1), (4, 0)] {
        let page = app
            .get_json(&format!("/products?sort=price&per_page=2&page={page_no}"))
            .await;
        assert_eq!(page["page"], page_no);
        assert_eq!(page["per_page"], 2);
        assert_eq!(page["total"], 5, "total counts every page");
        assert_eq!(page["items"].as_array().unwrap().len(), count);
        seen.extend(names(&page));
    }
    assert_eq!(
        seen,
        [
            "Bravo Book",
            "Alpha Kettle",
            "Delta Novel",
            "Echo Ball",
            "Charlie Pan"
        ]
    );
    let page = app.get_json("/products?per_page=100&category=books").await;
    assert_eq!(page["total"], 2);
}

#[tokio::test]
async fn invalid_query_values_are_422_naming_the_parameter() {
    let app = spawn_app().await;
    for (query, field) in [
        ("page=0", "page"),
        ("page=-1", "page"),
        ("page=abc", "page"),
        ("page=99999999999", "page"),
        ("per_page=0", "per_page"),
        ("per_page=101", "per_page"),
        ("per_page=1.5", "per_page"),
        ("min_price=cheap", "min_price"),
        ("min_price=-1", "min_price"),
        ("max_price=1e3", "max_price"),
        ("min_price=20&max_price=10", "max_price"),
        ("sort=popularity", "sort"),
        ("sort=", "sort"),
        ("category=", "category"),
        ("tag=%20", "tag"),
        ("page=1&page=2", "page"),
    ] {
        let body = problem(app.get(&format!("/products?{query}")).await, 422).await;
        assert_eq!(fields(&body), [field], "{query}: {body}");
    }
    // All at once.
    let body = problem(app.get("/products?page=x&per_page=x&sort=x").await, 422).await;
    assert_eq!(fields(&body), ["page", "per_page", "sort"]);
    // Unknown parameters are ignored.
    let page = app.get_json("/products?colour=red").await;
    assert_eq!(page["total"], 0);
}

#[tokio::test]
async fn gets_one_product() {
    let app = spawn_app().await;
    let created = app
        .create(
            json!({"name": "Lamp", "description": "A desk lamp", "price": "25.5",
                       "stock": 4, "category": "home", "tags": ["light"],
                       "images": ["https://img.example/lamp.jpg"]}),
        )
        .await;
    let got = app.get_json(&format!("/products/{}", created.id)).await;
    assert_eq!(got["id"], created.id.to_string());
    assert_eq!(got["name"], "Lamp");
    assert_eq!(got["description"], "A desk lamp");
    assert_eq!(got["price"], "25.50");
    assert_eq!(got["stock"], 4);
    assert_eq!(got["category"], "home");
    assert_eq!(got["tags"], json!(["light"]));
    assert_eq!(got["images"], json!(["https://img.example/lamp.jpg"]));
    assert!(got["created_at"].is_string() && got["updated_at"].is_string());

    problem(
        app.get(&format!("/products/{}", uuid::Uuid::new_v4()))
            .await,
        404,
    )
    .await;
    for bad in [
        "not-a-uuid",
        "123",
        "%ZZ",
        "00000000-0000-0000-0000-00000000000g",
    ] {
        problem(app.get(&format!("/products/{bad}")).await, 404).await;
    }
}

#[tokio::test]
async fn admin_creates_updates_and_deletes() {
    let app = spawn_app().await;
    let body = json!({"name": "Kettle", "price": "20.00", "stock": 3, "category": "kitchen"});

    // Create: 201, Location, the product.
    let r = admin(app.client.post(app.url("/products")))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    let created: Value = r.json().await.unwrap();
    assert_eq!(
        location,
        format!("/products/{}", created["id"].as_str().unwrap())
    );
    assert_eq!(created["description"], "");
    assert_eq!(created["tags"], json!([]));
    assert_eq!(app.get_json(&location).await, created);

    // Replace.
    let r = admin(app.client.put(app.url(&location)))
        .json(
            &json!({"name": "Kettle Pro", "price": 25, "stock": 9, "category": "kitchen",
                      "tags": ["tea"], "description": "Boils"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let updated: Value = r.json().await.unwrap();
    assert_eq!(updated["name"], "Kettle Pro");
    assert_eq!(updated["price"], "25.00");
    assert_eq!(updated["stock"], 9);
    assert_eq!(updated["tags"], json!(["tea"]));
    assert_eq!(updated["created_at"], created["created_at"]);
    assert_ne!(updated["updated_at"], created["updated_at"]);
    assert_eq!(app.get_json(&location).await, updated);
    // A product as read can be sent back as is (read-only fields are ignored).
    let r = admin(app.client.put(app.url(&location)))
        .json(&updated)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let same: Value = r.json().await.unwrap();
    assert_eq!(same["id"], updated["id"]);
    assert_eq!(same["name"], "Kettle Pro");

    // Unknown ids.
    let unknown = format!("/products/{}", uuid::Uuid::new_v4());
    let r = admin(app.client.put(app.url(&unknown)))
        .json(&body)
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let r = admin(app.client.delete(app.url(&unknown)))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
    let r = admin(app.client.delete(app.url("/products/nope")))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;

    // Delete.
    let r = admin(app.client.delete(app.url(&location)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    problem(app.get(&location).await, 404).await;
    let r = admin(app.client.delete(app.url(&location)))
        .send()
        .await
        .unwrap();
    problem(r, 404).await;
}

#[tokio::test]
async fn writes_need_an_admin() {
    let app = spawn_app().await;
    let existing = app.product("Kept", "1.00", 1).await;
    let path = format!("/products/{}", existing.id);
    let body = json!({"name": "X", "price": "1.00", "stock": 1, "category": "c"});

    let requests = |who: &dyn Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder| {
        vec![
            who(app.client.post(app.url("/products"))).json(&body),
            who(app.client.put(app.url(&path))).json(&body),
            who(app.client.delete(app.url(&path))),
        ]
    };
    // Anonymous, or bare identity headers without the gateway's signed token (whatever they
    // claim), or a token signed for another service → 401.
    for rb in requests(&|rb| rb)
        .into_iter()
        .chain(requests(&|rb| {
            rb.header("x-user-id", ADMIN_ID)
                .header("x-user-roles", "user,admin")
        }))
        .chain(requests(&|rb| rb.header("x-user-roles", "admin")))
        .chain(requests(&|rb| {
            testkit::identity::as_caller(rb, "order-service", ADMIN_ID, "user,admin")
        }))
    {
        problem(rb.send().await.unwrap(), 401).await;
    }
    // A user without the admin role → 403 (roles match exactly).
    for rb in requests(&user).into_iter().chain(requests(&|rb| {
        testkit::identity::as_caller(
            rb,
            product_service::config::SERVICE,
            USER_ID,
            "administrator,user",
        )
    })) {
        problem(rb.send().await.unwrap(), 403).await;
    }
    // Authorisation comes before the body is even read.
    let r = app
        .client
        .post(app.url("/products"))
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    problem(r, 401).await;
    // Nothing changed.
    let page = app.get_json("/products").await;
    assert_eq!(names(&page), ["Kept"]);
}

#[tokio::test]
async fn invalid_products_are_422_listing_every_field() {
    let app = spawn_app().await;
    let bad = json!({"name": "  ", "price": "-1.00", "stock": -3, "category": "",
                     "tags": ["ok", 5], "images": ["not a url"], "description": 7});
    let r = admin(app.client.post(app.url("/products")))
        .json(&bad)
        .send()
        .await
        .unwrap();
    let body = problem(r, 422).await;
    assert_eq!(
        fields(&body),
        [
            "name",
            "category",
            "description",
            "price",
            "stock",
            "tags[1]",
            "images[0]"
        ]
    );

    for (body, field) in [
        (
            json!({"price": "1.00", "stock": 1, "category": "c"}),
            "name",
        ),
        (json!({"name": "n", "stock": 1, "category": "c"}), "price"),
        (
            json!({"name": "n", "price": "1.999", "stock": 1, "category": "c"}),
            "price",
        ),
        (
            json!({"name": "n", "price": "abc", "stock": 1, "category": "c"}),
            "price",
        ),
        (
            json!({"name": "n", "price": "10000000000.00", "stock": 1, "category": "c"}),
            "price",
        ),
        (
            json!({"name": "n", "price": "1", "stock": 1.5, "category": "c"}),
            "stock",
        ),
        (
            json!({"name": "n", "price": "1", "stock": "1", "category": "c"}),
            "stock",
        ),
        (json!({"name": "n", "price": "1", "stock": 1}), "category"),
        (
            json!({"name": "n", "price": "1", "stock": 1, "category": "c", "colour": "red"}),
            "colour",
        ),
    ] {
        let r = admin(app.client.post(app.url("/products")))
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = problem(r, 422).await;
        assert_eq!(fields(&problem), [field], "{body}");
    }

    // PUT validates the same way.
    let p = app.product("Fine", "1.00", 1).await;
    let r = admin(app.client.put(app.url(&format!("/products/{}", p.id))))
        .json(&json!({"name": "", "price": "1", "stock": -1, "category": "c"}))
        .send()
        .await
        .unwrap();
    assert_eq!(fields(&problem(r, 422).await), ["name", "stock"]);
    assert_eq!(app.get_json("/products").await["total"], 1);
}

#[tokio::test]
async fn malformed_json_is_a_400_problem() {
    let app = spawn_app().await;
    let r = admin(app.client.post(app.url("/products")))
        .header("content-type", "application/json")
        .body(r#"{"name": "x", "price": "#)
        .send()
        .await
        .unwrap();
    let body = problem(r, 400).await;
    assert!(
        body["detail"].as_str().unwrap().contains("malformed JSON"),
        "{body}"
    );

    let r = admin(app.client.post(app.url("/products")))
        .body(r#"{"name": "x"}"#)
        .send()
        .await
        .unwrap();
    problem(r, 415).await;

    let r = app
        .client
        .post(app.url("/stock/reservations"))
        .header("content-type", "application/json")
        .body("[1,")
        .send()
        .await
        .unwrap();
    problem(r, 400).await;
}
