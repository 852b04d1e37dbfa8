{% if not db %}
//! `GET {{ route }}`: what this service is. A service without a database starts here; add a
//! resource module beside this one (docs/services-contract.md).

use super::AppState;
use axum::extract::State;
use kit::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the service is.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct About {
    #[schema(example = "{{ name }}")]
    pub service: String,
    #[schema(example = "0.1.0")]
    pub version: String,
}

/// What this service is
#[utoipa::path(
    get,
    path = "{{ route }}",
    tag = "{{ name }}",
    responses(
        (status = 200, description = "The service's name and version", body = About),
    )
)]
pub async fn about(State(_state): State<AppState>) -> Json<About> {
    Json(About {
        service: crate::SERVICE.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    })
}
{% endif %}
