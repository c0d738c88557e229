//! Session tokens (`docs/protocol.md`, section 8.6): what the core keeps of
//! them, and the decisions on them. Pure: time comes in as Unix seconds,
//! the token's bytes from the caller, and every change to keep is returned
//! as a store [`Change`] for the batch.
//!
//! Only a token's SHA-256 is kept, here and in the store. A token is 256
//! bits from the OS generator, so its hash cannot be turned back into it
//! or matched by guessing, and a plain hash needs no server secret to
//! guard, back up or lose: a leaked store or backup logs nobody in. Tokens
//! are kept per user, so a login compares only against its own user's
//! tokens and a token of one user can never log in as another.

use crate::store::{Change, StoredToken};
use sha2::{Digest as _, Sha256};
use std::collections::HashMap;

/// Live tokens one user may hold; issuing one more drops the oldest. A
/// user with a laptop, a phone and scripts on a few machines needs a
/// handful; the bound keeps a script that asks on every login from
/// growing the store and this map without end.
pub const MAX_TOKENS_PER_USER: usize = 32;

/// Seconds between two sweeps of expired tokens. An expired token is
/// refused at once; the sweep only frees its row, so it need not be
/// prompt, and each sweep walks every token.
pub const SWEEP_EVERY_SECS: u64 = 3600;

/// The SHA-256 of a token: what the store and [`Tokens`] keep.
pub fn hash(token: &[u8]) -> [u8; 32] {
    Sha256::digest(token).into()
}

/// Every user's live tokens, oldest issued first.
#[derive(Debug, Default)]
pub struct Tokens {
    by_user: HashMap<String, Vec<StoredToken>, foldhash::fast::RandomState>,
}

impl Tokens {
    pub fn new(stored: impl IntoIterator<Item = (String, Vec<StoredToken>)>) -> Tokens {
        Tokens {
            by_user: stored.into_iter().collect(),
        }
    }

    /// Whether `hash` is the hash of a token of `user` that has not
    /// expired at Unix time `now`. Compares every one of the user's hashes
    /// in full, so the time taken says nothing about which bytes matched.
    pub fn check(&self, user: &str, hash: &[u8; 32], now: u64) -> bool {
        let Some(list) = self.by_user.get(user) else {
            return false;
        };
        list.iter().fold(false, |found, t| {
            found | (same(&t.hash, hash) & (now < t.expires))
        })
    }

    /// Records a new token of `user`, dropping the oldest beyond
    /// [`MAX_TOKENS_PER_USER`]; returns the store changes.
    pub fn issue(&mut self, user: &str, token: StoredToken) -> Vec<Change> {
        let list = self.by_user.entry(user.to_owned()).or_default();
        let mut changes = Vec::new();
        while list.len() >= MAX_TOKENS_PER_USER {
            let oldest = list.remove(0);
            changes.push(Change::DeleteToken {
                user: user.to_owned(),
                hash: oldest.hash,
            });
        }
        list.push(token);
        changes.push(Change::PutToken {
            user: user.to_owned(),
            token,
        });
        changes
    }

    /// Forgets every token of `user` (a new password, or the user is
    /// deleted); the store change removes their rows.
    pub fn revoke(&mut self, user: &str) -> Change {
        self.by_user.remove(user);
        Change::DeleteTokens {
            user: user.to_owned(),
        }
    }

    /// Drops every token expired at Unix time `now`; returns the store
    /// changes.
    pub fn sweep(&mut self, now: u64) -> Vec<Change> {
        let mut changes = Vec::new();
        for (user, list) in &mut self.by_user {
            list.retain(|t| {
                let live = now < t.expires;
                if !live {
                    changes.push(Change::DeleteToken {
                        user: user.clone(),
                        hash: t.hash,
                    });
                }
                live
            });
        }
        self.by_user.retain(|_, list| !list.is_empty());
        changes
    }

    /// Live and expired tokens of `user` not yet swept.
    pub fn count(&self, user: &str) -> usize {
        self.by_user.get(user).map_or(0, Vec::len)
    }
}

/// Whether two hashes are equal, looking at every byte.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(n: u8, issued: u64, expires: u64) -> StoredToken {
        StoredToken {
            hash: hash(&[n; 32]),
            issued,
            expires,
        }
    }

    #[test]
    fn a_token_logs_in_only_its_own_user_until_it_expires() {
        let mut t = Tokens::default();
        t.issue("alice", token(1, 10, 100));
        let h = hash(&[1; 32]);
        assert!(t.check("alice", &h, 99));
        assert!(!t.check("alice", &h, 100));
        assert!(!t.check("bob", &h, 50));
        assert!(!t.check("alice", &hash(&[2; 32]), 50));
    }

    #[test]
    fn the_oldest_goes_past_the_bound() {
        let mut t = Tokens::default();
        for n in 0..MAX_TOKENS_PER_USER as u8 {
            let changes = t.issue("alice", token(n, u64::from(n), 1000));
            assert_eq!(changes.len(), 1);
        }
        let changes = t.issue("alice", token(200, 500, 1000));
        assert_eq!(t.count("alice"), MAX_TOKENS_PER_USER);
        assert!(matches!(
            &changes[..],
            [Change::DeleteToken { hash, .. }, Change::PutToken { .. }] if *hash == super::hash(&[0; 32])
        ));
        assert!(!t.check("alice", &hash(&[0; 32]), 1));
        assert!(t.check("alice", &hash(&[1; 32]), 1));
        assert!(t.check("alice", &hash(&[200; 32]), 1));
    }

    #[test]
    fn revoke_and_sweep() {
        let mut t = Tokens::default();
        t.issue("alice", token(1, 0, 100));
        t.issue("alice", token(2, 0, 300));
        t.issue("bob", token(3, 0, 100));
        let swept = t.sweep(200);
        assert_eq!(swept.len(), 2);
        assert_eq!((t.count("alice"), t.count("bob")), (1, 0));
        assert!(matches!(t.revoke("alice"), Change::DeleteTokens { user } if user == "alice"));
        assert!(!t.check("alice", &hash(&[2; 32]), 200));
    }
}
