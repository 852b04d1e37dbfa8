//! The user events (catalogue and JSON schema: docs/events.md), written to the outbox
//! (`kit::outbox`) in the caller's transaction, so an account's change and its event commit
//! together. The relay publishes them to the `shop.events` exchange; the gateway consumes
//! `user.deleted` to refuse the tokens of deleted accounts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Bumped on a breaking change of a user event's `data`; consumers read the `version` header.
pub const VERSION: u32 = 1;

/// An account was deleted (`DELETE /users/{id}` answered 204).
pub const USER_DELETED: &str = "user.deleted";

/// The message body: the envelope the order events use, around the event's data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<D> {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub data: D,
}

/// `data` of `user.deleted`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct UserDeleted {
    pub user_id: Uuid,
}

/// The `user.deleted` event of account `user_id`, with the current request's trace.
pub fn user_deleted(user_id: Uuid) -> kit::outbox::Outgoing<Envelope<UserDeleted>> {
    let envelope = Envelope {
        id: Uuid::new_v4(),
        kind: USER_DELETED.to_owned(),
        version: VERSION,
        occurred_at: Utc::now(),
        data: UserDeleted { user_id },
    };
    kit::outbox::Outgoing::new(envelope.id, USER_DELETED, envelope.occurred_at, envelope)
}
