{% if not db %}
//! `GET {{ route }}`: what the service is.

use crate::helpers::*;
use serde_json::Value;

#[tokio::test]
async fn about_names_the_service() {
    let app = spawn_app().await;
    let r = app.get("{{ route }}").await;
    assert_eq!(r.status(), 200);
    let about: Value = r.json().await.unwrap();
    assert_eq!(about["service"], "{{ name }}");
    assert_eq!(about["version"], env!("CARGO_PKG_VERSION"));
    problem(app.get("{{ route }}/nothing-here").await, 404).await;
}
{% endif %}
