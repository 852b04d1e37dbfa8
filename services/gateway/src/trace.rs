//! Trace context of proxied requests. Proxied requests skip the kit's per-request middleware
//! (a span, a log line, label allocations: together a third of the gateway's throughput), so the
//! gateway does the part that matters for them here, allocation-light: the `traceparent`
//! (continue the caller's trace, or start one; the gateway's span is the upstream's parent) and
//! the `x-request-id` (the caller's; else the id of the trace when the gateway started it, which
//! belongs to this request alone; else a new one), both forwarded upstream and returned to the
//! client, as the kit does for every service. With spans exported the gateway's span has ids of
//! the exporter's making, and [`RequestIds::adopt`] puts them in place of these.

use http::{HeaderMap, HeaderValue};
use rand::RngCore;

pub const TRACEPARENT: &str = kit::trace::TRACEPARENT;
pub const REQUEST_ID: &str = kit::trace::REQUEST_ID;

/// The ids of one request.
#[derive(Debug, Clone)]
pub struct RequestIds {
    pub request_id: HeaderValue,
    /// `00-<trace id>-<the gateway's span id>-<flags>`.
    pub traceparent: HeaderValue,
}

impl RequestIds {
    pub fn trace_id(&self) -> &str {
        self.traceparent
            .to_str()
            .ok()
            .and_then(|t| t.get(3..35))
            .unwrap_or_default()
    }

    pub fn request_id(&self) -> &str {
        self.request_id.to_str().unwrap_or_default()
    }

    /// Takes the ids of the gateway's exported span (spans exported): the `traceparent` sent
    /// upstream and returned becomes `00-<its trace id>-<its span id>-<its flags>`, so the
    /// upstream's span is the child of one the collector has, in the trace the client sees.
    /// A request id that was the trace id (the gateway started the trace and the client sent
    /// none) follows it. The comparison says exactly that: a trace started here is a fresh
    /// random id no client could have sent as its request id, and a continued trace keeps its
    /// id, so there an equal request id stays equal.
    pub fn adopt(&mut self, exported: &kit::trace::TraceContext) {
        let Ok(traceparent) = HeaderValue::from_str(&exported.header()) else {
            return;
        };
        if self.request_id.as_bytes() == self.trace_id().as_bytes() {
            if let Ok(id) = HeaderValue::from_str(&exported.trace_id) {
                self.request_id = id;
            }
        }
        self.traceparent = traceparent;
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

fn hex_into(out: &mut [u8], bytes: &[u8]) {
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[(b >> 4) as usize];
        out[2 * i + 1] = HEX[(b & 15) as usize];
    }
}

fn lower_hex(s: &[u8]) -> bool {
    s.iter()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
}

/// The trace id and sampled flag of a valid `traceparent` (the rules of
/// `kit::trace::TraceContext::parse`).
fn parse(value: &[u8]) -> Option<(&[u8], bool)> {
    if value.len() != 55 || value[2] != b'-' || value[35] != b'-' || value[52] != b'-' {
        return None;
    }
    let (version, trace, parent, flags) =
        (&value[..2], &value[3..35], &value[36..52], &value[53..]);
    if !lower_hex(version) || version == b"ff" || !lower_hex(trace) || !lower_hex(parent) {
        return None;
    }
    if !lower_hex(flags) || trace.iter().all(|b| *b == b'0') || parent.iter().all(|b| *b == b'0') {
        return None;
    }
    let flags = (HEX.iter().position(|h| *h == flags[0])? << 4)
        | HEX.iter().position(|h| *h == flags[1])?;
    Some((trace, flags & 1 == 1))
}

/// The ids for a request with these headers.
pub fn ids(headers: &HeaderMap) -> RequestIds {
    let mut rng = rand::thread_rng();
    let mut tp = [0u8; 55];
    tp[..3].copy_from_slice(b"00-");
    let continued = headers.get(TRACEPARENT).and_then(|v| parse(v.as_bytes()));
    let sampled = match continued {
        Some((trace, sampled)) => {
            tp[3..35].copy_from_slice(trace);
            sampled
        }
        None => {
            let mut trace = [0u8; 16];
            rng.fill_bytes(&mut trace);
            trace[15] |= 1;
            hex_into(&mut tp[3..35], &trace);
            true
        }
    };
    tp[35] = b'-';
    let mut span = rng.next_u64().to_be_bytes();
    span[7] |= 1;
    hex_into(&mut tp[36..52], &span);
    tp[52] = b'-';
    tp[53..].copy_from_slice(if sampled { b"01" } else { b"00" });
    let traceparent = HeaderValue::from_bytes(&tp).expect("hex is a header value");

    let request_id = match headers
        .get(REQUEST_ID)
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.to_str().is_ok())
    {
        Some(id) => id.clone(),
        // A trace started here is this request's alone: its id serves as the request id.
        None if continued.is_none() => {
            HeaderValue::from_bytes(&tp[3..35]).expect("hex is a header value")
        }
        None => {
            let mut id = [0u8; 16];
            rng.fill_bytes(&mut id);
            let mut out = [0u8; 32];
            hex_into(&mut out, &id);
            HeaderValue::from_bytes(&out).expect("hex is a header value")
        }
    };
    RequestIds {
        request_id,
        traceparent,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kit::trace::TraceContext;

    #[test]
    fn continues_the_callers_trace_or_starts_one() {
        let mut h = HeaderMap::new();
        h.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        );
        h.insert(REQUEST_ID, HeaderValue::from_static("req-1"));
        let ids = ids(&h);
        let t = TraceContext::parse(ids.traceparent.to_str().unwrap()).expect("valid");
        assert_eq!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_ne!(t.span_id, "00f067aa0ba902b7");
        assert!(!t.sampled);
        assert_eq!(ids.request_id(), "req-1");
        assert_eq!(ids.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");

        for bad in [
            "",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        ] {
            let mut h = HeaderMap::new();
            h.insert(TRACEPARENT, HeaderValue::from_str(bad).unwrap());
            let ids = super::ids(&h);
            let t = TraceContext::parse(ids.traceparent.to_str().unwrap()).expect("valid");
            assert_ne!(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736", "{bad}");
            assert!(t.sampled);
            assert_eq!(ids.request_id().len(), 32);
            assert_eq!(
                ids.request_id(),
                ids.trace_id(),
                "a new trace's id is the request id"
            );
        }
        let mut h = HeaderMap::new();
        h.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        );
        let ids = super::ids(&h);
        assert_eq!(ids.request_id().len(), 32);
        assert_ne!(
            ids.request_id(),
            ids.trace_id(),
            "a continued trace is not one request"
        );
    }

    #[test]
    fn adopts_the_exported_spans_ids() {
        let exported =
            TraceContext::parse("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01").unwrap();

        // A trace the gateway started: its id was the request id, and still is.
        let mut ids = ids(&HeaderMap::new());
        ids.adopt(&exported);
        assert_eq!(ids.traceparent, exported.header().as_str());
        assert_eq!(ids.trace_id(), "0af7651916cd43dd8448eb211c80319c");
        assert_eq!(ids.request_id(), "0af7651916cd43dd8448eb211c80319c");

        // The client's request id stays.
        let mut h = HeaderMap::new();
        h.insert(REQUEST_ID, HeaderValue::from_static("req-1"));
        let mut ids = super::ids(&h);
        ids.adopt(&exported);
        assert_eq!(ids.traceparent, exported.header().as_str());
        assert_eq!(ids.request_id(), "req-1");

        // A continued trace: the exported span is the caller's child, in the caller's trace;
        // the request id made for it stays.
        let mut h = HeaderMap::new();
        h.insert(
            TRACEPARENT,
            HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"),
        );
        let mut ids = super::ids(&h);
        let made = ids.request_id().to_owned();
        let child = TraceContext {
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "b7ad6b7169203331".into(),
            sampled: false,
        };
        ids.adopt(&child);
        assert_eq!(
            ids.traceparent,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-b7ad6b7169203331-00"
        );
        assert_eq!(ids.request_id(), made);
    }
}
