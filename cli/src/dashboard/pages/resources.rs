//! Resources: every container of the project (runtime state apart from build state, health,
//! URLs, restarts, the last error), restart and stop buttons, and the dependency graph drawn
//! from the stack file (levels left to right, as `up` starts them).

use crate::dashboard::{problem, resources, Shared};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::HashMap;

#[derive(Debug, Serialize)]
pub struct Node {
    name: String,
    x: f64,
    y: f64,
    state: String,
}

#[derive(Debug, Serialize)]
pub struct Edge {
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
}

pub const NODE_W: f64 = 150.0;
pub const NODE_H: f64 = 30.0;

/// Node positions and edges (dependent → dependency) of the stack's services.
pub fn graph(
    stack: &crate::stack::Stack,
    states: &HashMap<String, String>,
) -> (Vec<Node>, Vec<Edge>, f64, f64) {
    let services: Vec<&crate::stack::ServiceSpec> = stack.services.iter().collect();
    let levels = crate::graph::levels(&services);
    let mut pos: HashMap<&str, (f64, f64)> = HashMap::new();
    let mut nodes = Vec::new();
    let tallest = levels.iter().map(Vec::len).max().unwrap_or(1);
    for (l, level) in levels.iter().enumerate() {
        for (i, s) in level.iter().enumerate() {
            let (x, y) = (
                10.0 + l as f64 * (NODE_W + 60.0),
                10.0 + i as f64 * (NODE_H + 20.0),
            );
            pos.insert(&s.name, (x, y));
            nodes.push(Node {
                name: s.name.clone(),
                x,
                y,
                state: states
                    .get(&s.name)
                    .cloned()
                    .unwrap_or_else(|| "absent".into()),
            });
        }
    }
    let mut edges = Vec::new();
    for s in &stack.services {
        for d in &s.depends_on {
            if let (Some(a), Some(b)) = (pos.get(s.name.as_str()), pos.get(d.service.as_str())) {
                edges.push(Edge {
                    x1: a.0,
                    y1: a.1 + NODE_H / 2.0,
                    x2: b.0 + NODE_W,
                    y2: b.1 + NODE_H / 2.0,
                });
            }
        }
    }
    let width = 20.0 + levels.len() as f64 * (NODE_W + 60.0);
    let height = 20.0 + tallest as f64 * (NODE_H + 20.0);
    (nodes, edges, width, height)
}

pub async fn page(State(state): State<Shared>) -> Response {
    let list = match &state.docker {
        Some(d) => resources::list(d, &state.stack.name).await,
        None => Vec::new(),
    };
    // A running service's last error is usually in its logs, not in the engine's state.
    let store = state.store.clone();
    let logged =
        tokio::task::spawn_blocking(move || store.reader().ok().and_then(|r| r.last_errors().ok()))
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
    let states: HashMap<String, String> = list
        .iter()
        .map(|r| {
            let s = if r.ps.health.is_empty() || r.ps.health == "none" {
                r.ps.state.clone()
            } else {
                r.ps.health.clone()
            };
            (r.ps.service.clone(), s)
        })
        .collect();
    let (nodes, edges, width, height) = graph(&state.stack, &states);
    super::render(
        &state,
        "resources.html",
        "resources",
        minijinja::context! {
            resources => list, nodes, edges, width, height,
            node_w => NODE_W, node_h => NODE_H,
            engine => state.docker.is_some(),
            logged,
        },
    )
}

/// `POST /resources/{container}/{restart|stop}`, from the page's buttons. The request must
/// say it comes from the page's script (a cross-site form cannot set the header; the cookie is
/// SameSite=Strict besides).
pub async fn act(
    State(state): State<Shared>,
    Path((container, action)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if headers.get("x-msctl-action").is_none() {
        return problem(
            StatusCode::FORBIDDEN,
            "actions come from the dashboard's own page",
        );
    }
    let Some(docker) = &state.docker else {
        return problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the Docker engine is not reachable",
        );
    };
    match resources::act(docker, &state.stack.name, &container, &action).await {
        Ok(()) => (StatusCode::NO_CONTENT, "").into_response(),
        Err(e) => problem(StatusCode::CONFLICT, &e),
    }
}
