//! The pact files in `contracts/pacts/`: found, parsed far enough to know who they bind
//! (consumer, provider, interactions and their states), and refused with `file:line:column`
//! when they are not pacts. The verifier parses them again in full; this is what msctl itself
//! needs to plan, filter and report.

use crate::diag::{Diagnostic, FileErrors, Pos};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where the consumer tests write their pacts, next to the stack file.
pub const DIR: &str = "contracts/pacts";

#[derive(Debug, Clone)]
pub struct PactFile {
    pub path: PathBuf,
    pub consumer: String,
    pub provider: String,
    pub interactions: Vec<Interaction>,
    /// SHA-256 of the file's bytes: a verification result belongs to this exact contract.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interaction {
    pub description: String,
    pub states: Vec<String>,
    pub kind: Kind,
    /// `METHOD /path` of an HTTP interaction (for the report and the provider's log lines).
    pub request: Option<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Http,
    Message,
}

#[derive(Deserialize)]
struct Raw {
    consumer: Named,
    provider: Named,
    #[serde(default)]
    interactions: Vec<RawInteraction>,
    /// Spec V3 message pacts keep their interactions here.
    #[serde(default)]
    messages: Vec<RawInteraction>,
}

#[derive(Deserialize)]
struct Named {
    name: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawInteraction {
    description: String,
    #[serde(rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    provider_states: Vec<Named>,
    /// V2 and earlier: one state, as a string.
    provider_state: Option<String>,
    request: Option<RawRequest>,
}

#[derive(Deserialize)]
struct RawRequest {
    method: Option<String>,
    path: Option<String>,
}

impl PactFile {
    pub fn parse(path: &Path, bytes: &[u8]) -> Result<PactFile, FileErrors> {
        let raw: Raw = crate::diag::parse_json(
            bytes,
            path,
            "not a pact file",
            "pact files are JSON written by the consumer tests; run them again (`msctl test contracts` without --skip-consumers) or restore the file from git",
        )?;
        let whole =
            |message: String| FileErrors::one(path, Diagnostic::new(Pos::default(), message));
        if raw.consumer.name.is_empty() || raw.provider.name.is_empty() {
            return Err(whole("the consumer and provider must have names".into()));
        }
        let message_file = !raw.messages.is_empty();
        let interactions: Vec<Interaction> = raw
            .interactions
            .into_iter()
            .chain(raw.messages)
            .map(|i| {
                let kind = match i.kind.as_deref() {
                    Some(t) if t.starts_with("Asynchronous") => Kind::Message,
                    Some(_) => Kind::Http,
                    None if message_file || i.request.is_none() => Kind::Message,
                    None => Kind::Http,
                };
                let mut states: Vec<String> =
                    i.provider_states.into_iter().map(|s| s.name).collect();
                states.extend(i.provider_state);
                let request = i
                    .request
                    .and_then(|r| Some((r.method?.to_uppercase(), r.path?)));
                Interaction {
                    description: i.description,
                    states,
                    kind,
                    request,
                }
            })
            .collect();
        if interactions.is_empty() {
            return Err(whole(
                "the pact has no interactions: a consumer test wrote nothing to verify".into(),
            ));
        }
        Ok(PactFile {
            path: path.to_path_buf(),
            consumer: raw.consumer.name,
            provider: raw.provider.name,
            interactions,
            sha256: hex::encode(Sha256::digest(bytes)),
        })
    }

    pub fn has(&self, kind: Kind) -> bool {
        self.interactions.iter().any(|i| i.kind == kind)
    }

    pub fn interaction(&self, description: &str) -> Option<&Interaction> {
        self.interactions
            .iter()
            .find(|i| i.description == description)
    }
}

/// Every `*.json` in `dir` (not its sub-directories: the verifier ignores those too), sorted
/// by name. Every broken file is reported, not only the first.
pub fn discover(dir: &Path) -> Result<Vec<PactFile>, crate::Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        // No folder is no pact: the caller says why that verifies nothing.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            let context = format!("reading the pact files in {}", dir.display());
            return Err(crate::Error::io(context)(e));
        }
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut pacts = Vec::new();
    let mut broken = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path)
            .map_err(crate::Error::io(format!("reading {}", path.display())))?;
        match PactFile::parse(&path, &bytes) {
            Ok(p) => pacts.push(p),
            Err(e) => broken.push(e),
        }
    }
    if !broken.is_empty() {
        return Err(crate::Error::Files(broken));
    }
    Ok(pacts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v4_pact_with_http_and_message_interactions_is_read() {
        let text = br#"{
          "consumer": {"name": "order-service"}, "provider": {"name": "product-service"},
          "interactions": [
            {"type": "Synchronous/HTTP", "description": "reserve", "providerStates": [{"name": "a product with stock", "params": {}}],
             "request": {"method": "post", "path": "/reservations"}, "response": {"status": 201}},
            {"type": "Asynchronous/Messages", "description": "order.created", "contents": {}}
          ],
          "metadata": {"pactSpecification": {"version": "4.0"}}
        }"#;
        let p = PactFile::parse(Path::new("x.json"), text).unwrap();
        assert_eq!(
            (p.consumer.as_str(), p.provider.as_str()),
            ("order-service", "product-service")
        );
        assert_eq!(p.interactions[0].kind, Kind::Http);
        assert_eq!(p.interactions[0].states, ["a product with stock"]);
        assert_eq!(
            p.interactions[0].request,
            Some(("POST".into(), "/reservations".into()))
        );
        assert_eq!(p.interactions[1].kind, Kind::Message);
        assert_eq!(p.sha256.len(), 64);
    }

    #[test]
    fn broken_json_is_reported_with_its_line_and_column() {
        let err = PactFile::parse(
            Path::new("contracts/pacts/a.json"),
            b"{\n  \"consumer\": ,\n}",
        )
        .unwrap_err();
        let d = &err.diagnostics[0];
        assert_eq!((d.pos.line, d.pos.column), (2, 15));
        assert!(d.message.starts_with("not a pact file"), "{}", d.message);
    }

    #[test]
    fn a_pact_without_interactions_is_refused() {
        let err = PactFile::parse(
            Path::new("a.json"),
            br#"{"consumer": {"name": "a"}, "provider": {"name": "b"}, "interactions": []}"#,
        )
        .unwrap_err();
        assert!(err.diagnostics[0].message.contains("no interactions"));
    }
}
