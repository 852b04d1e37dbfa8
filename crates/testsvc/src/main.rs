//! A tiny HTTP service that stands in for the reference services in msctl's engine tests and
//! the bundled stack until those land. Standard library only, so it builds in seconds.
//!
//! - `testsvc` serves on `$PORT` (default 8080): `/health/live`, `/` (who am I), `/env/NAME`.
//! - `testsvc healthcheck` probes the local server: the container healthcheck needs no curl.
//! - `testsvc once` prints a line and exits 0: a one-shot job for `condition: completed`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::time::Duration;

fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(8080)
}

fn main() -> ExitCode {
    match std::env::args().nth(1).as_deref() {
        None | Some("serve") => serve(),
        Some("healthcheck") => healthcheck(),
        Some("once") => {
            println!(
                "one-shot job ran: {}",
                std::env::var("JOB").unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Some(other) => {
            eprintln!("unknown command `{other}`; use serve, healthcheck or once");
            ExitCode::from(2)
        }
    }
}

fn serve() -> ExitCode {
    let listener = match TcpListener::bind(("0.0.0.0", port())) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("cannot listen on port {}: {e}", port());
            return ExitCode::FAILURE;
        }
    };
    println!("testsvc listening on port {}", port());
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            let _ = handle(stream);
        });
    }
    ExitCode::SUCCESS
}

fn handle(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
            break;
        }
    }
    let path = request_line.split_whitespace().nth(1).unwrap_or("/");
    let (status, body) = match path {
        "/health/live" | "/health/ready" => ("200 OK", "{\"status\":\"ok\"}".to_string()),
        "/" => (
            "200 OK",
            format!(
                "{{\"service\":{:?},\"hostname\":{:?},\"greeting\":{:?}}}",
                std::env::var("SERVICE_NAME").unwrap_or_default(),
                std::fs::read_to_string("/etc/hostname")
                    .unwrap_or_default()
                    .trim(),
                std::env::var("GREETING").unwrap_or_default()
            ),
        ),
        p if p.starts_with("/env/") => match std::env::var(&p[5..]) {
            Ok(v) => ("200 OK", format!("{v:?}")),
            Err(_) => ("404 Not Found", "{\"error\":\"not set\"}".into()),
        },
        _ => ("404 Not Found", "{\"error\":\"no such route\"}".into()),
    };
    println!("{} {}", request_line.trim(), status);
    write!(
        stream,
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn healthcheck() -> ExitCode {
    let probe = || -> std::io::Result<bool> {
        let mut stream =
            TcpStream::connect_timeout(&([127, 0, 0, 1], port()).into(), Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(2)))?;
        stream.write_all(
            b"GET /health/live HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n",
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response.starts_with("HTTP/1.1 200"))
    };
    match probe() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("unhealthy: /health/live did not answer 200");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("unhealthy: {e}");
            ExitCode::FAILURE
        }
    }
}
