//! The redb schema: every table, its key and value, in one place.
//!
//! Names are the on-disk contract; changing one is a migration (see
//! [`super::migrate`]). Version 2 keys everything that can name a user or a
//! channel of another server by its full address (`alice@a.example`,
//! `#general@a.example`); only [`USERS`] and the owner side of [`CONTACTS`]
//! hold local names, since only local users log in and own contacts.

use redb::TableDefinition;

/// The schema this build reads and writes. Version 3 stores a checksum
/// beside each message (see [`MESSAGES`]); version 4 keeps the outbox in
/// runs (see [`OUTBOX_RUNS`]); version 5 may have messages in a journal
/// beside the file that redb does not hold yet (see [`JOURNAL_APPLIED`]),
/// which an older build would not read.
pub const VERSION: u64 = 5;

/// Local user name → argon2id PHC string.
pub const USERS: TableDefinition<&str, &str> = TableDefinition::new("users");

/// (owner's local name, contact's full address) → nothing.
pub const CONTACTS: TableDefinition<(&str, &str), ()> = TableDefinition::new("contacts");

/// (contact's full address, owner's local name) → nothing: [`CONTACTS`]
/// turned around, so deleting a user finds who had them as a contact
/// without a scan.
pub const CONTACT_OF: TableDefinition<(&str, &str), ()> = TableDefinition::new("contact_of");

/// (channel's full address, user's full address) → mode byte: 1 member,
/// 2 operator, 3 banned. A channel exists once it has a row in [`CHANNELS`].
pub const MODES: TableDefinition<(&str, &str), u8> = TableDefinition::new("modes");

/// (user's full address, channel's full address) → nothing: [`MODES`]
/// turned around, for deleting a user.
pub const MEMBERSHIPS: TableDefinition<(&str, &str), ()> = TableDefinition::new("memberships");

/// Channel's full address → the message sequence number when it was created.
pub const CHANNELS: TableDefinition<&str, u64> = TableDefinition::new("channels");

/// (conversation key, receive sequence) → (`send_time`, checksum, the
/// Message PDU as received). `send_time` is kept beside the PDU so History
/// filters on it without decoding; the checksum is the CRC-32C of
/// [`super::record::checksum`] over the key and both values, verified on
/// every read, so a damaged row is reported and skipped, never served.
///
/// The key is the channel's full address (`#c@a.example`) for a channel
/// and the two users' full addresses, sorted and joined by a space
/// (`alice@a.example bob@b.example`), for a direct conversation.
///
/// Conversation keys are stored as their UTF-8 bytes: a byte key compares
/// with `memcmp`, where a `&str` key is validated as UTF-8 at every
/// comparison of every lookup, which was the hub's largest cost.
///
/// Version 2 kept (`send_time`, PDU) in `conversation_messages`; see
/// [`super::migrate`].
pub const MESSAGES: TableDefinition<MessageKey, StoredMessage> =
    TableDefinition::new("checked_messages");

/// (conversation key as UTF-8 bytes, receive sequence).
pub type MessageKey<'a> = (&'a [u8], u64);

/// (`send_time`, checksum, the Message PDU).
pub type StoredMessage<'a> = (u64, u32, &'a [u8]);

/// (conversation key, t) → the receive sequence of the first message of
/// the conversation whose `send_time` raised the conversation's highest
/// `send_time` so far to t.
///
/// Every message sent at or after `since` comes at or after the sequence
/// of the first row with t ≥ `since`: one seek finds where a History
/// reply starts, and it is read in receive order from there.
pub const RISES: TableDefinition<(&[u8], u64), u64> = TableDefinition::new("rises");

/// (local user's full address, direct conversation key) → nothing: the
/// direct conversations a user takes part in, for deleting a user.
pub const CONVERSATIONS: TableDefinition<(&str, &str), ()> = TableDefinition::new("conversations");

/// Known peer server name → (address `host:port`, its 32-byte Ed25519
/// public key, whether the link to it runs inside TLS). Peers added with
/// `solec federate add`; peers of the config file are not stored. Added
/// within version 2: a store that lacks it gets it, empty, when opened.
pub const PEERS: TableDefinition<&str, (&str, &[u8], bool)> = TableDefinition::new("peers");

/// (peer server name, number of the run's first relay) → a run of that
/// peer's relays: messages and mode changes for a peer server, kept until
/// the peer has acknowledged or refused them or their lifetime has ended.
///
/// A run is one or more relays with rising numbers, each as its number
/// (u64 little-endian), the Unix time its lifetime ends (u64 LE), the
/// PDU's length (u32 LE) and the PDU (see [`super::runs`]). Runs of a
/// peer do not overlap. Version 3 kept a row per relay in `outbox`; see
/// [`super::migrate::v3_to_v4`].
pub const OUTBOX_RUNS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("outbox_runs");

/// Peer server name → the relay number the next message for it takes.
/// Numbers only grow, so a number is never given to two messages.
pub const RELAY_OUT: TableDefinition<&str, u64> = TableDefinition::new("relay_out");

/// Peer server name → the highest relay number received from it and dealt
/// with (stored or refused), written in the transaction that stores the
/// message: a retransmitted number at or below it is a duplicate.
pub const RELAY_IN: TableDefinition<&str, u64> = TableDefinition::new("relay_in");

/// Local user name → bytes of the Message PDUs they sent that are stored
/// in [`MESSAGES`], for `max_stored_bytes_per_user`. Added within version
/// 3: a store that lacks it gets it computed from [`MESSAGES`] when opened
/// (see [`super::migrate::add_usage`]).
pub const USAGE: TableDefinition<&str, u64> = TableDefinition::new("usage");
/// (local user name, SHA-256 of a session token) → (Unix time it was
/// issued, Unix time it expires): the session tokens a user may log in
/// with instead of the password (`docs/protocol.md`, section 8.6). Only the
/// hash is kept, so the store does not hold anything that logs in. Keyed by
/// the user first, so a login looks up exactly its own user's row, and
/// revoking or bounding one user's tokens is a range. Added within version
/// 3: a store that lacks it gets it, empty, when opened.
pub const TOKENS: TableDefinition<(&str, &[u8]), (u64, u64)> = TableDefinition::new("tokens");

/// Bytes of a token's hash in [`TOKENS`]: a SHA-256.
pub const TOKEN_HASH_LEN: usize = 32;

/// Counters: [`NEXT_SEQ`], [`SCHEMA_VERSION`], [`JOURNAL_APPLIED`] and
/// [`JOURNAL_NONCE`].
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// Text settings: [`SERVER_NAME`].
pub const SETTINGS: TableDefinition<&str, &str> = TableDefinition::new("settings");

/// The next message sequence number.
pub const NEXT_SEQ: &str = "next_seq";

/// The schema version; absent in version 1.
pub const SCHEMA_VERSION: &str = "schema_version";

/// The id of the last journal record redb holds (see
/// [`super::journal`]); absent: none.
pub const JOURNAL_APPLIED: &str = "journal_applied";

/// A random number every record of this store's journal carries, so a
/// journal left beside another file (a restored backup, which has none
/// and gets a new one) is never replayed into it.
pub const JOURNAL_NONCE: &str = "journal_nonce";

/// The server name every full address in this store was written for.
pub const SERVER_NAME: &str = "server_name";
