//! Serving, thread per core: one accept loop hands connections round robin to worker threads,
//! each running its own single-threaded tokio runtime (with its own upstream connections,
//! `pool.rs`). A request then stays on one thread from the client's socket to the upstream's
//! and back: no cross-thread wake-ups, no shared locks.
//!
//! Connections are served by hyper's HTTP/1.1 server directly. Proxied paths go straight to
//! [`Gateway::handle`] (a prefix match over the configured routes), with the client's address
//! as an argument; everything else (health, metrics, OpenAPI, the 404 problem) goes to the
//! kit's axum router. Skipping axum's router, extractors and layers on the proxied path saves
//! about a tenth of the CPU per request (docs/gateway.md, "Performance").

use crate::proxy::{Gateway, Peer, Upstream};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tower::ServiceExt;

/// The number of workers for a configured count (0: one per available CPU).
pub fn worker_count(configured: usize) -> usize {
    if configured > 0 {
        configured
    } else {
        std::thread::available_parallelism().map_or(1, |n| n.get())
    }
}

/// A route: an exact path or a prefix (`/users` matches `/users`, `/users/`, `/users/...`).
pub struct Route {
    pub path: String,
    pub prefix: bool,
    pub upstream: &'static Upstream,
}

/// What a worker serves: the proxied routes and, for everything else, the kit's router.
pub struct Dispatch {
    gateway: &'static Gateway,
    /// Exact paths first, then prefixes, longest first.
    routes: Vec<Route>,
    kit: Router,
}

impl Dispatch {
    pub fn new(gateway: &'static Gateway, mut routes: Vec<Route>, kit: Router) -> Dispatch {
        routes.sort_by_key(|r| (r.prefix, std::cmp::Reverse(r.path.len())));
        Dispatch {
            gateway,
            routes,
            kit,
        }
    }

    /// The upstream of a proxied path.
    pub fn route(&self, path: &str) -> Option<&'static Upstream> {
        self.routes.iter().find_map(|r| {
            let hit = if r.prefix {
                path.strip_prefix(r.path.as_str())
                    .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            } else {
                path == r.path
            };
            hit.then_some(r.upstream)
        })
    }

    async fn serve(
        &'static self,
        request: http::Request<Incoming>,
        addr: SocketAddr,
        peer: Peer,
    ) -> Result<Response, Infallible> {
        let mut request = request.map(Body::new);
        match self.route(request.uri().path()) {
            Some(upstream) => {
                let handled = self.gateway.handle(upstream, request, &peer);
                Ok(match AssertUnwindSafe(handled).catch_unwind().await {
                    Ok(response) => response,
                    Err(_) => kit::Problem::internal(&"the proxy handler panicked").into_response(),
                })
            }
            None => {
                // The gateway's own endpoints and its 404s are reachable from outside without
                // a token: limited per client like everything else (issue #12).
                if let Some(limited) = self.gateway.limit_client(&peer, request.headers()) {
                    return Ok(limited);
                }
                request
                    .extensions_mut()
                    .insert(ConnectInfo(ClientAddr(addr)));
                self.kit.clone().oneshot(request).await
            }
        }
    }
}

/// The client's socket address, for handlers of the kit's router (`ConnectInfo<ClientAddr>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

/// Serves on `listener` with `workers` worker threads, each with a [`Dispatch`] from
/// `dispatch`, until `shutdown` resolves (or this future is dropped), then lets in-flight
/// requests finish and closes idle connections.
pub async fn serve(
    listener: TcpListener,
    dispatch: impl Fn() -> Dispatch + Send + Sync + 'static,
    workers: usize,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let workers = workers.max(1);
    let (stop, stopped) = watch::channel(false);
    let dispatch = std::sync::Arc::new(dispatch);
    let mut queues = Vec::with_capacity(workers);
    let mut finished = Vec::with_capacity(workers);
    for index in 1..=workers {
        let (queue, connections) = mpsc::unbounded_channel();
        let (done, done_rx) = oneshot::channel();
        let dispatch = dispatch.clone();
        let stopped = stopped.clone();
        std::thread::Builder::new()
            .name(format!("gateway-worker-{index}"))
            .spawn(move || {
                let result = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|runtime| {
                        // One per worker for the life of the process: requests borrow it
                        // without reference counting.
                        let dispatch: &'static Dispatch = Box::leak(Box::new(dispatch()));
                        runtime.block_on(worker(connections, dispatch, stopped));
                    });
                let _ = done.send(result);
            })?;
        queues.push(queue);
        finished.push(done_rx);
    }

    let mut next = 0usize;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    match stream.into_std() {
                        Ok(stream) => {
                            let _ = queues[next % workers].send((stream, peer));
                            next = next.wrapping_add(1);
                        }
                        Err(e) => tracing::warn!(error = %e, "could not hand over a connection"),
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    drop(queues);
    let _ = stop.send(true);
    for done in finished {
        if let Ok(Err(e)) = done.await {
            return Err(e);
        }
    }
    Ok(())
}

/// One worker: serves the connections it is handed until told to stop (or the accept loop is
/// gone), then waits for its connections to finish.
async fn worker(
    mut connections: mpsc::UnboundedReceiver<(std::net::TcpStream, SocketAddr)>,
    dispatch: &'static Dispatch,
    mut stopped: watch::Receiver<bool>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    // A client gets 30 s to send a request's headers (slow-loris protection).
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(30));
    loop {
        let (stream, peer) = tokio::select! {
            next = connections.recv() => match next {
                Some(connection) => connection,
                None => break,
            },
            _ = stopped.wait_for(|s| *s) => break,
        };
        // Registers the socket with this worker's runtime.
        let stream = match TcpStream::from_std(stream) {
            Ok(stream) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "could not adopt a connection");
                continue;
            }
        };
        let client = Peer::new(peer.ip());
        let service = hyper::service::service_fn(move |request| {
            dispatch.serve(request, peer, client.clone())
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "client connection ended with an error");
            }
        });
    }
    graceful.shutdown().await;
}
