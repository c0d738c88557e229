//! The redb schema: every table, its key and value, in one place.
//!
//! Names are the on-disk contract; changing one is a migration.

use redb::TableDefinition;

/// User name (local part) → argon2id PHC string.
pub const USERS: TableDefinition<&str, &str> = TableDefinition::new("users");

/// (owner, contact) local user names → nothing. Owner's contact list.
pub const CONTACTS: TableDefinition<(&str, &str), ()> = TableDefinition::new("contacts");

/// (channel name without `#`, user name) → mode byte: 1 member, 2 operator,
/// 3 banned. A channel exists once it has a row in [`CHANNELS`].
pub const MODES: TableDefinition<(&str, &str), u8> = TableDefinition::new("modes");

/// Channel name without `#` → the message sequence number when it was
/// created (messages with a lower number predate the channel).
pub const CHANNELS: TableDefinition<&str, u64> = TableDefinition::new("channels");

/// (conversation key, receive sequence) → the Message PDU as received.
///
/// The key is `#name` for a channel and `alice bob` (the two user names,
/// sorted, joined by a space) for a direct conversation, so one range scan
/// yields a conversation in the server's receive order.
pub const MESSAGES: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("messages");

/// Counters: `next_seq`, the next message sequence number.
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

pub const NEXT_SEQ: &str = "next_seq";
