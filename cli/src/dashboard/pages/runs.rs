//! Runs: the last `msctl test journeys`, `msctl load` and `msctl test contracts`, each step
//! with its verdict and, where it has one, a link to the trace its request started.

use crate::dashboard::Shared;
use axum::extract::State;
use axum::response::Response;

pub async fn page(State(state): State<Shared>) -> Response {
    let runs = crate::runs::last(&state.stack.dir);
    let now = crate::runs::now();
    super::render(
        &state,
        "runs.html",
        "runs",
        minijinja::context! { runs, now },
    )
}
