//! The server's directory and its rules: who exists, who is whose contact,
//! who is in which channel, and who may do what.
//!
//! Pure data and decisions, no IO: every rule takes the requester and the
//! request and returns either the error to answer or the changes to make.
//! The hub applies the changes to memory here and to the store together.

use crate::proto::address::Address;
use crate::proto::{ErrorType, Mode};
use crate::store::Snapshot;
use std::collections::{BTreeSet, HashMap};

/// A change to persist, produced by a rule after it has been applied here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    AddContact {
        owner: String,
        contact: String,
    },
    RemoveContact {
        owner: String,
        contact: String,
    },
    CreateChannel {
        channel: String,
    },
    SetMode {
        channel: String,
        user: String,
        mode: Mode,
    },
}

/// Where a Message goes, once the rules allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A direct message to this local user.
    User(String),
    /// A message to this local channel (name without `#`).
    Channel(String),
}

impl Target {
    /// The store's conversation key: `#name`, or the two user names sorted
    /// and joined by a space.
    pub fn conversation(&self, sender: &str) -> String {
        match self {
            Target::Channel(name) => format!("#{name}"),
            Target::User(user) => direct_key(sender, user),
        }
    }
}

/// The conversation key of the direct conversation between two users.
fn direct_key(a: &str, b: &str) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("{lo} {hi}")
}

#[derive(Debug, Default)]
struct User {
    hash: String,
    contacts: BTreeSet<String>,
}

/// Users, contacts and channels of this server.
#[derive(Debug, Default)]
pub struct Directory {
    name: String,
    /// Channels users may create in all; each costs memory here.
    max_channels: usize,
    users: HashMap<String, User>,
    channels: HashMap<String, HashMap<String, Mode>>,
}

type Rule<T> = Result<T, ErrorType>;

impl Directory {
    /// The directory of server `name` as loaded from the store, allowing
    /// users to create channels up to `max_channels` in all.
    pub fn new(name: &str, max_channels: usize, snap: Snapshot) -> Directory {
        let mut dir = Directory {
            name: name.to_owned(),
            max_channels,
            ..Directory::default()
        };
        for (user, hash) in snap.users {
            dir.users.insert(
                user,
                User {
                    hash,
                    contacts: BTreeSet::new(),
                },
            );
        }
        for (owner, contact) in snap.contacts {
            if let Some(u) = dir.users.get_mut(&owner) {
                u.contacts.insert(contact);
            }
        }
        for (channel, modes) in snap.channels {
            dir.channels.insert(channel, modes.into_iter().collect());
        }
        dir
    }

    pub fn server_name(&self) -> &str {
        &self.name
    }

    /// The PHC hash of a user named by local part or by full local address.
    pub fn lookup(&self, username: &str) -> Option<(&str, &str)> {
        let local = match username.split_once('@') {
            Some((local, server)) if server == self.name => local,
            Some(_) => return None,
            None => username,
        };
        self.users
            .get_key_value(local)
            .map(|(name, u)| (name.as_str(), u.hash.as_str()))
    }

    pub fn has_user(&self, name: &str) -> bool {
        self.users.contains_key(name)
    }

    pub fn user_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.users.keys().cloned().collect();
        names.sort();
        names
    }

    /// Adds or replaces a user's hash (admin commands).
    pub fn put_user(&mut self, name: &str, hash: &str) {
        self.users.entry(name.to_owned()).or_default().hash = hash.to_owned();
    }

    /// Removes a user, their contacts both ways and their channel modes.
    pub fn delete_user(&mut self, name: &str) -> bool {
        let existed = self.users.remove(name).is_some();
        for u in self.users.values_mut() {
            u.contacts.remove(name);
        }
        for modes in self.channels.values_mut() {
            modes.remove(name);
        }
        existed
    }

    /// Resolves a local user address to its local part, or NotFound.
    fn local_user<'a>(&self, addr: &'a str) -> Rule<&'a str> {
        match Address::parse(addr).map_err(|_| ErrorType::BadRequest)? {
            Address::User { local, server } if server == self.name && self.has_user(local) => {
                Ok(local)
            }
            _ => Err(ErrorType::NotFound),
        }
    }

    /// Resolves a local channel address to its name, or NotFound / BadRequest.
    fn local_channel<'a>(&self, addr: &'a str) -> Rule<&'a str> {
        match Address::parse(addr).map_err(|_| ErrorType::BadRequest)? {
            Address::Channel { name, server } if server == self.name => Ok(name),
            _ => Err(ErrorType::NotFound),
        }
    }

    fn mode(&self, channel: &str, user: &str) -> Option<Mode> {
        self.channels.get(channel)?.get(user).copied()
    }

    fn is_member(&self, channel: &str, user: &str) -> bool {
        matches!(
            self.mode(channel, user),
            Some(Mode::Member | Mode::Operator)
        )
    }

    /// Members and operators of a channel.
    pub fn members<'a>(&'a self, channel: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.channels
            .get(channel)
            .into_iter()
            .flatten()
            .filter(|(_, m)| matches!(m, Mode::Member | Mode::Operator))
            .map(|(u, _)| u.as_str())
    }

    /// Where `sender`'s message to `target` goes, if anywhere.
    pub fn route(&self, sender: &str, target: &str) -> Rule<Target> {
        match Address::parse(target).map_err(|_| ErrorType::BadRequest)? {
            Address::User { local, server } => {
                // Unknown local target: NotFound, checked before the contacts rule.
                if server != self.name || !self.has_user(local) {
                    return Err(ErrorType::NotFound);
                }
                // "User can exchange messages with other users of the
                // network if they are both in their contacts group."
                if !self.mutual_contacts(sender, local) {
                    return Err(ErrorType::Unauthorized);
                }
                Ok(Target::User(local.to_owned()))
            }
            Address::Channel { name, server } => {
                if server != self.name || !self.channels.contains_key(name) {
                    return Err(ErrorType::NotFound);
                }
                if !self.is_member(name, sender) {
                    return Err(ErrorType::Unauthorized);
                }
                Ok(Target::Channel(name.to_owned()))
            }
        }
    }

    fn mutual_contacts(&self, a: &str, b: &str) -> bool {
        let has = |x: &str, y: &str| self.users.get(x).is_some_and(|u| u.contacts.contains(y));
        a != b && has(a, b) && has(b, a)
    }

    /// The conversation `requester` may read through History.
    pub fn history_target(&self, requester: &str, addr: &str) -> Rule<Target> {
        match Address::parse(addr).map_err(|_| ErrorType::BadRequest)? {
            Address::User { local, server } if server == self.name && self.has_user(local) => {
                Ok(Target::User(local.to_owned()))
            }
            Address::Channel { name, server }
                if server == self.name && self.channels.contains_key(name) =>
            {
                // "User has to member of the channel to perform this action."
                if !self.is_member(name, requester) {
                    return Err(ErrorType::Unauthorized);
                }
                Ok(Target::Channel(name.to_owned()))
            }
            _ => Err(ErrorType::NotFound),
        }
    }

    /// ContactAdd: `owner` adds a local user to their contacts.
    pub fn contact_add(&mut self, owner: &str, addr: &str) -> Rule<Option<Change>> {
        let contact = self.local_user(addr)?;
        if contact == owner {
            return Err(ErrorType::BadRequest);
        }
        let user = self.users.get_mut(owner).ok_or(ErrorType::NotFound)?;
        Ok(user
            .contacts
            .insert(contact.to_owned())
            .then(|| Change::AddContact {
                owner: owner.to_owned(),
                contact: contact.to_owned(),
            }))
    }

    /// ContactRemove: `owner` drops a contact.
    pub fn contact_remove(&mut self, owner: &str, addr: &str) -> Rule<Change> {
        let contact = match Address::parse(addr).map_err(|_| ErrorType::BadRequest)? {
            Address::User { local, server } if server == self.name => local,
            _ => return Err(ErrorType::NotFound),
        };
        let user = self.users.get_mut(owner).ok_or(ErrorType::NotFound)?;
        if !user.contacts.remove(contact) {
            return Err(ErrorType::NotFound);
        }
        Ok(Change::RemoveContact {
            owner: owner.to_owned(),
            contact: contact.to_owned(),
        })
    }

    /// The full addresses of `owner`'s contacts, sorted.
    pub fn contacts(&self, owner: &str) -> Vec<String> {
        self.users.get(owner).map_or_else(Vec::new, |u| {
            u.contacts
                .iter()
                .map(|c| format!("{c}@{}", self.name))
                .collect()
        })
    }

    /// UserMode: `requester` sets `user_addr`'s mode in `channel_addr`.
    pub fn user_mode(
        &mut self,
        requester: &str,
        user_addr: &str,
        channel_addr: &str,
        mode: Mode,
    ) -> Rule<Vec<Change>> {
        let channel = self.local_channel(channel_addr)?;
        let user = self.local_user(user_addr)?;
        if let Mode::Unknown(_) = mode {
            return Err(ErrorType::BadRequest);
        }
        let exists = self.channels.contains_key(channel);
        let current = self.mode(channel, user);
        let by_operator = self.mode(channel, requester) == Some(Mode::Operator);
        let own = user == requester;
        match mode {
            // A join by someone already in the channel (an operator too)
            // changes nothing: joining must never demote.
            Mode::Member if own && matches!(current, Some(Mode::Member | Mode::Operator)) => {
                Ok(Vec::new())
            }
            Mode::Member if own && !by_operator => {
                if current == Some(Mode::Banned) {
                    return Err(ErrorType::Unauthorized);
                }
                if !exists {
                    // Every channel is held in memory: a user must not be
                    // able to create them without end.
                    if self.channels.len() >= self.max_channels {
                        return Err(ErrorType::TooLarge);
                    }
                    // Joining a channel that does not exist creates it and
                    // makes the creator its operator.
                    return Ok(self.create(channel, user));
                }
                Ok(self.set(channel, user, Mode::Member))
            }
            Mode::Leave if own && !by_operator => {
                if !self.is_member(channel, user) {
                    return Err(ErrorType::NotFound);
                }
                Ok(self.set(channel, user, Mode::Leave))
            }
            _ if !exists => Err(ErrorType::NotFound),
            _ if !by_operator => Err(ErrorType::Unauthorized),
            _ if current == Some(mode) || (mode == Mode::Leave && current.is_none()) => {
                Ok(Vec::new())
            }
            _ => Ok(self.set(channel, user, mode)),
        }
    }

    fn create(&mut self, channel: &str, user: &str) -> Vec<Change> {
        self.channels.insert(channel.to_owned(), HashMap::new());
        let mut changes = vec![Change::CreateChannel {
            channel: channel.to_owned(),
        }];
        changes.extend(self.set(channel, user, Mode::Operator));
        changes
    }

    fn set(&mut self, channel: &str, user: &str, mode: Mode) -> Vec<Change> {
        let modes = self.channels.entry(channel.to_owned()).or_default();
        match mode {
            Mode::Leave => modes.remove(user),
            mode => modes.insert(user.to_owned(), mode),
        };
        vec![Change::SetMode {
            channel: channel.to_owned(),
            user: user.to_owned(),
            mode,
        }]
    }
}

/// The full address of local user `name` on server `server`.
pub fn user_address(name: &str, server: &str) -> String {
    format!("{name}@{server}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorType::*;

    fn dir() -> Directory {
        let mut snap = Snapshot::default();
        for u in ["alice", "bob", "carol"] {
            snap.users.insert(u.into(), format!("hash-{u}"));
        }
        Directory::new("x", 3, snap)
    }

    #[test]
    fn login_names_local_part_or_local_address() {
        let d = dir();
        assert_eq!(d.lookup("alice"), Some(("alice", "hash-alice")));
        assert_eq!(d.lookup("alice@x"), Some(("alice", "hash-alice")));
        assert_eq!(d.lookup("alice@y"), None);
        assert_eq!(d.lookup("dave"), None);
    }

    #[test]
    fn direct_messages_need_contacts_both_ways() {
        let mut d = dir();
        assert_eq!(d.route("alice", "dave@x"), Err(NotFound));
        assert_eq!(d.route("alice", "bob@y"), Err(NotFound));
        assert_eq!(d.route("alice", "Bob@x"), Err(BadRequest));
        assert_eq!(d.route("alice", "bob@x"), Err(Unauthorized));
        d.contact_add("alice", "bob@x").unwrap();
        assert_eq!(d.route("alice", "bob@x"), Err(Unauthorized));
        assert_eq!(d.route("bob", "alice@x"), Err(Unauthorized));
        d.contact_add("bob", "alice@x").unwrap();
        assert_eq!(d.route("alice", "bob@x"), Ok(Target::User("bob".into())));
        assert_eq!(d.route("bob", "alice@x"), Ok(Target::User("alice".into())));
        d.contact_remove("bob", "alice@x").unwrap();
        assert_eq!(d.route("alice", "bob@x"), Err(Unauthorized));
    }

    #[test]
    fn contact_rules() {
        let mut d = dir();
        assert_eq!(d.contact_add("alice", "alice@x"), Err(BadRequest));
        assert_eq!(d.contact_add("alice", "dave@x"), Err(NotFound));
        assert!(d.contact_add("alice", "bob@x").unwrap().is_some());
        assert_eq!(d.contact_add("alice", "bob@x"), Ok(None));
        assert_eq!(d.contacts("alice"), ["bob@x"]);
        assert_eq!(d.contact_remove("alice", "carol@x"), Err(NotFound));
    }

    #[test]
    fn join_creates_and_makes_operator() {
        let mut d = dir();
        assert_eq!(d.route("alice", "#c@x"), Err(NotFound));
        let changes = d
            .user_mode("alice", "alice@x", "#c@x", Mode::Member)
            .unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(d.mode("c", "alice"), Some(Mode::Operator));
        assert_eq!(d.route("alice", "#c@x"), Ok(Target::Channel("c".into())));
        assert_eq!(d.route("bob", "#c@x"), Err(Unauthorized));
        assert_eq!(d.history_target("bob", "#c@x"), Err(Unauthorized));
        d.user_mode("bob", "bob@x", "#c@x", Mode::Member).unwrap();
        assert_eq!(d.mode("c", "bob"), Some(Mode::Member));
        assert_eq!(d.members("c").count(), 2);
        // Joining again changes nothing, for a member or an operator.
        assert_eq!(
            d.user_mode("bob", "bob@x", "#c@x", Mode::Member),
            Ok(vec![])
        );
        assert_eq!(
            d.user_mode("alice", "alice@x", "#c@x", Mode::Member),
            Ok(vec![])
        );
        assert_eq!(d.mode("c", "alice"), Some(Mode::Operator));
    }

    #[test]
    fn only_operators_change_others() {
        let mut d = dir();
        d.user_mode("alice", "alice@x", "#c@x", Mode::Member)
            .unwrap();
        d.user_mode("bob", "bob@x", "#c@x", Mode::Member).unwrap();
        for mode in [Mode::Leave, Mode::Member, Mode::Operator, Mode::Banned] {
            assert_eq!(
                d.user_mode("bob", "alice@x", "#c@x", mode),
                Err(Unauthorized)
            );
        }
        assert_eq!(
            d.user_mode("bob", "bob@x", "#c@x", Mode::Operator),
            Err(Unauthorized)
        );
        assert_eq!(
            d.user_mode("bob", "carol@x", "#none@x", Mode::Banned),
            Err(NotFound)
        );
        // Ban a non-member; the ban holds against their join.
        d.user_mode("alice", "carol@x", "#c@x", Mode::Banned)
            .unwrap();
        assert_eq!(
            d.user_mode("carol", "carol@x", "#c@x", Mode::Member),
            Err(Unauthorized)
        );
        // Kick, then the kicked member may rejoin; a ban removes membership.
        d.user_mode("alice", "bob@x", "#c@x", Mode::Leave).unwrap();
        assert_eq!(d.route("bob", "#c@x"), Err(Unauthorized));
        d.user_mode("bob", "bob@x", "#c@x", Mode::Member).unwrap();
        d.user_mode("alice", "bob@x", "#c@x", Mode::Banned).unwrap();
        assert_eq!(d.route("bob", "#c@x"), Err(Unauthorized));
        // Operator lifts a ban with 0x01; promotes with 0x02.
        d.user_mode("alice", "carol@x", "#c@x", Mode::Member)
            .unwrap();
        d.user_mode("alice", "carol@x", "#c@x", Mode::Operator)
            .unwrap();
        d.user_mode("carol", "bob@x", "#c@x", Mode::Member).unwrap();
        assert_eq!(d.route("bob", "#c@x"), Ok(Target::Channel("c".into())));
        assert_eq!(
            d.user_mode("alice", "bob@x", "#c@x", Mode::Unknown(9)),
            Err(BadRequest)
        );
    }

    #[test]
    fn channel_creation_stops_at_the_limit() {
        let mut d = dir();
        for ch in ["#a@x", "#b@x", "#c@x"] {
            d.user_mode("alice", "alice@x", ch, Mode::Member).unwrap();
        }
        assert_eq!(
            d.user_mode("alice", "alice@x", "#d@x", Mode::Member),
            Err(TooLarge)
        );
        // Existing channels can still be joined.
        d.user_mode("bob", "bob@x", "#a@x", Mode::Member).unwrap();
    }

    #[test]
    fn leaving() {
        let mut d = dir();
        assert_eq!(
            d.user_mode("alice", "alice@x", "#c@x", Mode::Leave),
            Err(NotFound)
        );
        d.user_mode("alice", "alice@x", "#c@x", Mode::Member)
            .unwrap();
        d.user_mode("bob", "bob@x", "#c@x", Mode::Member).unwrap();
        d.user_mode("bob", "bob@x", "#c@x", Mode::Leave).unwrap();
        assert_eq!(d.route("bob", "#c@x"), Err(Unauthorized));
        assert_eq!(
            d.user_mode("bob", "bob@x", "#c@x", Mode::Leave),
            Err(NotFound)
        );
    }

    #[test]
    fn conversation_keys_are_symmetric() {
        assert_eq!(
            Target::User("bob".into()).conversation("alice"),
            "alice bob"
        );
        assert_eq!(
            Target::User("alice".into()).conversation("bob"),
            "alice bob"
        );
        assert_eq!(Target::Channel("c".into()).conversation("bob"), "#c");
    }
}
