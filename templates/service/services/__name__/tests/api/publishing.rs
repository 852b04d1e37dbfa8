{% if publishes %}
//! Events out: creating an item publishes `{{ publishes[0] }}` through the outbox, with the
//! envelope and the headers of every shop event.

use crate::helpers::*;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use testkit::events::Delivered;

#[tokio::test]
async fn creating_an_item_publishes_its_event() {
    let app = spawn_app().await;
    let seen: Arc<Mutex<Vec<Delivered>>> = Arc::default();
    let sink = seen.clone();
    testkit::events::tap(&app.amqp_url, "{{ publishes[0] }}", move |m| {
        sink.lock().unwrap().push(m)
    })
    .await;
    let item = app.create("announced").await;

    let deadline = Instant::now() + Duration::from_secs(15);
    let message = loop {
        if let Some(m) = seen.lock().unwrap().first().cloned() {
            break m;
        }
        assert!(Instant::now() < deadline, "no {{ publishes[0] }} in 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(message.routing_key, "{{ publishes[0] }}");
    assert_eq!(message.app_id.as_deref(), Some({{ crate }}::SERVICE));
    assert_eq!(message.body["type"], "{{ publishes[0] }}");
    assert_eq!(message.body["version"], 1);
    assert_eq!(message.body["data"], item);
    assert_eq!(message.message_id.as_deref(), message.body["id"].as_str());
    assert_eq!(message.headers["event_type"], "{{ publishes[0] }}");
    assert_eq!(message.headers["version"], "1");
    let unsent: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(unsent, 0);
}
{% endif %}
