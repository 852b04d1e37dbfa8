//! An `expect_message` step: waits on the queue bound for it before the journey started for a
//! message its matchers accept, and says how the last one missed when none does.

use super::{Failed, Runner};
use crate::diag::pos;
use crate::journeys::matcher::{self, show};
use crate::journeys::model::ExpectMessage;
use crate::journeys::parse;
use crate::journeys::rabbitmq::{Inbox, Message};
use crate::journeys::report::StepReport;
use crate::journeys::template::Scope;
use serde_json::Value;
use std::time::Duration;

impl Runner {
    pub(super) async fn message_step(
        &self,
        m: &ExpectMessage,
        inbox: &Inbox,
        scope: &Scope,
        report: &mut StepReport,
    ) -> Result<(), Failed> {
        let exchange = self.text(&m.exchange, scope)?;
        let key = self.text(&m.routing_key, scope)?;
        report.action = format!("message on {exchange} ({key})");
        let within = match &m.within {
            Some(w) => parse::duration(w).map_err(Failed::from)?,
            None => Duration::from_secs(10),
        };
        let body_checks = self.json_checks(&m.json, scope)?;
        let mut header_checks = Vec::new();
        for (name, _, matcher) in m.headers.iter() {
            header_checks.push((name.to_owned(), self.ops(matcher, scope)?));
        }
        // What a message misses; it is the one when nothing is missed.
        let misses = |msg: &Message| -> Vec<String> {
            let mut why: Vec<String> = body_checks
                .iter()
                .filter_map(|c| c.check_json(&msg.body).map(|p| format!("{}: {p}", c.what)))
                .collect();
            for (name, ops) in &header_checks {
                let found: Vec<Value> = msg.headers.get(name).cloned().into_iter().collect();
                if let Some(p) = matcher::check(ops, &found) {
                    why.push(format!("header {name}: {p}"));
                }
            }
            why
        };
        match inbox.wait(within, |m| misses(m).is_empty()).await {
            Ok(_) => Ok(()),
            Err(seen) => {
                let messages = inbox.snapshot().await;
                // The closest miss tells most: what the last message had at each path.
                if let Some(last) = messages.last() {
                    let why = misses(last);
                    report.received = Some(format!(
                        "last of {} ({}): {}",
                        messages.len(),
                        last.routing_key,
                        show(&last.body)
                    ));
                    report
                        .failures
                        .push(format!("the last message differs: {}", why.join("; ")));
                }
                Err(Failed(
                    pos(&m.routing_key),
                    format!(
                        "no matching message on `{exchange}` ({key}) within {} ({seen} messages arrived)",
                        humantime::format_duration(within)
                    ),
                ))
            }
        }
    }
}
