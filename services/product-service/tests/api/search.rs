//! Full-text search: weights (name > tags/category > description), ranking, filters, paging.

use crate::helpers::*;
use serde_json::json;

#[tokio::test]
async fn ranks_name_above_tags_above_description() {
    let app = spawn_app().await;
    // Created in the reverse of the expected order, so ordering cannot come from insertion.
    app.create(
        json!({"name": "Milk Frother", "price": "15.00", "stock": 1, "category": "kitchen",
                      "description": "Foams milk for a latte, next to your espresso machine."}),
    )
    .await;
    app.create(
        json!({"name": "Burr Grinder", "price": "80.00", "stock": 1, "category": "kitchen",
                      "tags": ["espresso", "coffee"], "description": "Grinds beans evenly."}),
    )
    .await;
    app.create(
        json!({"name": "Espresso Machine", "price": "300.00", "stock": 1,
                      "category": "kitchen", "description": "Makes coffee drinks."}),
    )
    .await;
    app.create(
        json!({"name": "Garden Hose", "price": "30.00", "stock": 1, "category": "garden",
                      "description": "Thirty metres of hose."}),
    )
    .await;

    let page = app.get_json("/products/search?q=espresso").await;
    assert_eq!(
        names(&page),
        ["Espresso Machine", "Burr Grinder", "Milk Frother"]
    );
    assert_eq!(page["total"], 3);
    assert_eq!(page["page"], 1);
    assert_eq!(page["per_page"], 20);
    let ranks: Vec<f64> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["rank"].as_f64().unwrap())
        .collect();
    assert!(
        ranks[0] > ranks[1] && ranks[1] > ranks[2] && ranks[2] > 0.0,
        "{ranks:?}"
    );
    // Hits are whole products plus the rank.
    assert_eq!(page["items"][0]["price"], "300.00");
    assert!(page["items"][0]["id"].is_string());

    // Stemming: "grinds"/"grinder"; category words are searchable; websearch syntax.
    assert_eq!(
        names(&app.get_json("/products/search?q=grinding").await),
        ["Burr Grinder"]
    );
    assert_eq!(
        names(&app.get_json("/products/search?q=garden").await),
        ["Garden Hose"]
    );
    // (ts_rank's scores for queries with a negated term are PostgreSQL's own business; only
    // the matches are checked.)
    let mut matches = names(&app.get_json("/products/search?q=espresso%20-milk").await);
    matches.sort();
    assert_eq!(matches, ["Burr Grinder", "Espresso Machine"]);
    assert_eq!(
        names(
            &app.get_json("/products/search?q=%22espresso%20machine%22")
                .await
        ),
        ["Espresso Machine", "Milk Frother"]
    );
    assert_eq!(app.get_json("/products/search?q=bicycle").await["total"], 0);
    // Only stop words: an empty query matches nothing (and does not fail).
    assert_eq!(app.get_json("/products/search?q=the").await["total"], 0);
    // Filters and paging apply to search too.
    assert_eq!(
        names(
            &app.get_json("/products/search?q=espresso&max_price=100")
                .await
        ),
        ["Burr Grinder", "Milk Frother"]
    );
    let page = app
        .get_json("/products/search?q=espresso&per_page=1&page=2")
        .await;
    assert_eq!(names(&page), ["Burr Grinder"]);
    assert_eq!(page["total"], 3);
}

#[tokio::test]
async fn search_needs_a_query() {
    let app = spawn_app().await;
    for query in ["", "?q=", "?q=%20%20", "?page=1"] {
        let body = problem(app.get(&format!("/products/search{query}")).await, 422).await;
        assert_eq!(fields(&body), ["q"], "{query}");
    }
    let long = "a".repeat(300);
    let body = problem(app.get(&format!("/products/search?q={long}")).await, 422).await;
    assert_eq!(fields(&body), ["q"]);
    let body = problem(app.get("/products/search?q=x&per_page=500").await, 422).await;
    assert_eq!(fields(&body), ["per_page"]);
    // Odd input is just text to websearch_to_tsquery, never a 500.
    for q in [
        "%27%3B%20drop%20table%20products%3B--",
        "%26%7C%21()",
        "%22",
        "or",
        "-",
    ] {
        let r = app.get(&format!("/products/search?q={q}")).await;
        assert_eq!(r.status(), 200, "{q}");
    }
}
