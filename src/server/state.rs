//! The server's directory and its rules: who exists, who is whose contact,
//! who is in which channel, and who may do what.
//!
//! Pure data and decisions, no IO: every rule takes the requester (by full
//! address) and the request and returns either the error to answer or the
//! changes to make, already applied here. The core hands the changes on to
//! the store. Contacts, channels and modes are kept by full address, so
//! they can name users and channels of other servers.

use crate::proto::address::Address;
use crate::proto::{ErrorType, Mode};
use crate::store::{direct_key, Change, Snapshot};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// Where a Message goes, once the rules allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// A direct message, kept under this conversation key.
    Direct(Arc<str>),
    /// A message to the local channel it was addressed to.
    Channel,
}

/// What a History reads, once the rules allow it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A direct message to this local user (full address).
    User(String),
    /// A message to this local channel (full address).
    Channel(String),
}

impl Target {
    /// The store's conversation key, for a message from or a History of
    /// `requester` (a full address).
    pub fn conversation(&self, requester: &str) -> String {
        match self {
            Target::Channel(channel) => channel.clone(),
            Target::User(user) => direct_key(requester, user),
        }
    }
}

/// The local part of the reserved address a server tells its users from
/// that a message could not be delivered; no user may take the name.
pub const POSTMASTER: &str = "postmaster";

/// The local part of a full address.
fn local(address: &str) -> &str {
    address.split_once('@').map_or(address, |(l, _)| l)
}

#[derive(Debug, Default)]
struct User {
    hash: String,
    /// Full addresses, each with the key of the direct conversation with
    /// it, made once so a message costs no formatting.
    contacts: BTreeMap<String, Arc<str>>,
}

/// Users, contacts and channels of this server.
#[derive(Debug, Default)]
pub struct Directory {
    name: String,
    /// Channels users may create in all; each costs memory here.
    max_channels: usize,
    /// Channels one user may operate and still create another.
    max_channels_per_user: usize,
    /// Looked up twice per message: a fast hash with a per-process random
    /// seed (foldhash) instead of SipHash. User names are the admin's.
    users: HashMap<String, User, foldhash::fast::RandomState>,
    /// Channel address → user address → mode.
    channels: HashMap<String, HashMap<String, Mode>>,
    /// Channels of other servers → the local users (full addresses) who
    /// are members there, as far as this server knows: its users' joins
    /// and leaves, and the home server's kicks and bans.
    remote: HashMap<String, BTreeSet<String>>,
}

type Rule<T> = Result<T, ErrorType>;

impl Directory {
    /// The directory of server `name` as loaded from the store, allowing
    /// users to create channels up to `max_channels` in all.
    pub fn new(name: &str, max_channels: usize, snap: Snapshot) -> Directory {
        let mut dir = Directory {
            name: name.to_owned(),
            max_channels,
            max_channels_per_user: usize::MAX,
            ..Directory::default()
        };
        for (user, hash) in snap.users {
            let contacts = BTreeMap::new();
            dir.users.insert(user, User { hash, contacts });
        }
        for (owner, contact) in snap.contacts {
            let key = dir.conversation_key(&owner, &contact);
            if let Some(u) = dir.users.get_mut(&owner) {
                u.contacts.insert(contact, key);
            }
        }
        for (channel, modes) in snap.channels {
            if Address::parse(&channel).is_ok_and(|a| a.server() != name) {
                let members = modes
                    .into_iter()
                    .filter(|(_, m)| matches!(m, Mode::Member | Mode::Operator))
                    .map(|(u, _)| u);
                dir.remote.insert(channel, members.collect());
                continue;
            }
            // A channel whose last member left before empty channels were
            // removed: it no longer exists, nor counts toward the limit.
            if modes
                .values()
                .any(|m| matches!(m, Mode::Member | Mode::Operator))
            {
                dir.channels.insert(channel, modes.into_iter().collect());
            }
        }
        dir
    }

    /// Whether local user `user` is a member of `channel`, a channel of
    /// another server, as far as this server knows.
    pub fn is_remote_member(&self, channel: &str, user: &str) -> bool {
        self.remote.get(channel).is_some_and(|m| m.contains(user))
    }

    /// The local users (full addresses) who are members of `channel`, a
    /// channel of another server.
    pub fn remote_members<'a>(&'a self, channel: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.remote
            .get(channel)
            .into_iter()
            .flatten()
            .map(String::as_str)
    }

    /// Records local user `user`'s membership of `channel` on another
    /// server: in for Member or Operator, out otherwise. None if nothing
    /// changes.
    pub fn set_remote(&mut self, channel: &str, user: &str, mode: Mode) -> Option<Change> {
        let member = matches!(mode, Mode::Member | Mode::Operator);
        let members = self.remote.entry(channel.to_owned()).or_default();
        let changed = if member {
            members.insert(user.to_owned())
        } else {
            members.remove(user)
        };
        if members.is_empty() {
            self.remote.remove(channel);
        }
        changed.then(|| Change::SetMode {
            channel: channel.to_owned(),
            user: user.to_owned(),
            mode: if member { Mode::Member } else { Mode::Leave },
        })
    }

    /// The other servers that have members in local channel `channel`.
    pub fn member_servers(&self, channel: &str) -> BTreeSet<&str> {
        self.members(channel)
            .filter_map(|u| u.split_once('@').map(|(_, s)| s))
            .filter(|s| *s != self.name)
            .collect()
    }

    /// The direct conversation key of local user `owner` and `contact`.
    fn conversation_key(&self, owner: &str, contact: &str) -> Arc<str> {
        Arc::from(direct_key(&self.address_of(owner), contact))
    }

    pub fn set_max_channels(&mut self, max_channels: usize) {
        self.max_channels = max_channels;
    }

    /// How many channels one user may operate and still create another.
    pub fn set_max_channels_per_user(&mut self, max: usize) {
        self.max_channels_per_user = max;
    }

    pub fn server_name(&self) -> &str {
        &self.name
    }

    /// The full address of local user `name`.
    pub fn address_of(&self, name: &str) -> String {
        format!("{name}@{}", self.name)
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
    pub fn put_user(&mut self, name: &str, hash: &str) -> Change {
        self.users.entry(name.to_owned()).or_default().hash = hash.to_owned();
        Change::PutUser {
            name: name.to_owned(),
            hash: hash.to_owned(),
        }
    }

    /// Removes a user, their contacts both ways and their channel modes;
    /// a channel they were the last member of is deleted with them.
    pub fn delete_user(&mut self, name: &str) -> Option<Vec<Change>> {
        self.users.remove(name)?;
        let address = self.address_of(name);
        for u in self.users.values_mut() {
            u.contacts.remove(&address);
        }
        let mut emptied = Vec::new();
        for (channel, modes) in &mut self.channels {
            if modes.remove(&address).is_some() && !has_members(modes) {
                emptied.push(channel.clone());
            }
        }
        for members in self.remote.values_mut() {
            members.remove(&address);
        }
        self.remote.retain(|_, m| !m.is_empty());
        let mut changes = vec![Change::DeleteUser {
            name: name.to_owned(),
        }];
        for channel in emptied {
            changes.extend(self.delete_channel(&channel));
        }
        Some(changes)
    }

    /// Deletes local channel `channel` with its modes and messages (the
    /// admin command, and a channel whose last member left). None if
    /// there is no such channel.
    pub fn delete_channel(&mut self, channel: &str) -> Option<Change> {
        self.channels.remove(channel)?;
        Some(Change::DeleteChannel {
            channel: channel.to_owned(),
        })
    }

    /// The channels of this server, sorted.
    pub fn channel_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.channels.keys().cloned().collect();
        names.sort();
        names
    }

    /// Whether `addr` is a local user's address; its local part if so.
    fn local_user<'a>(&self, addr: &'a str) -> Rule<&'a str> {
        match Address::parse(addr).map_err(|_| ErrorType::BadRequest)? {
            Address::User { local, server } if server == self.name && self.has_user(local) => {
                Ok(local)
            }
            _ => Err(ErrorType::NotFound),
        }
    }

    /// Checks that `addr` is a channel address of this server.
    fn local_channel(&self, addr: &str) -> Rule<()> {
        match Address::parse(addr).map_err(|_| ErrorType::BadRequest)? {
            Address::Channel { server, .. } if server == self.name => Ok(()),
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

    /// Full addresses of a channel's members and operators.
    pub fn members<'a>(&'a self, channel: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.channels
            .get(channel)
            .into_iter()
            .flatten()
            .filter(|(_, m)| matches!(m, Mode::Member | Mode::Operator))
            .map(|(u, _)| u.as_str())
    }

    /// Where `sender`'s message to `target` goes, if anywhere.
    pub fn route(&self, sender: &str, target: &str) -> Rule<Route> {
        match Address::parse(target).map_err(|_| ErrorType::BadRequest)? {
            Address::User { local, server } => {
                // Unknown local target: NotFound, checked before the contacts rule.
                if server != self.name || !self.has_user(local) {
                    return Err(ErrorType::NotFound);
                }
                // "User can exchange messages with other users of the
                // network if they are both in their contacts group."
                let key = self.mutual_contacts(sender, target);
                key.map(Route::Direct).ok_or(ErrorType::Unauthorized)
            }
            Address::Channel { server, .. } => {
                if server != self.name || !self.channels.contains_key(target) {
                    return Err(ErrorType::NotFound);
                }
                if !self.is_member(target, sender) {
                    return Err(ErrorType::Unauthorized);
                }
                Ok(Route::Channel)
            }
        }
    }

    /// Their conversation's key if two users have each other as contacts;
    /// a user of another server has no contact list here.
    fn mutual_contacts(&self, a: &str, b: &str) -> Option<Arc<str>> {
        let key = |x: &str, y: &str| self.users.get(local(x))?.contacts.get(y);
        if a == b || key(b, a).is_none() {
            return None;
        }
        key(a, b).cloned()
    }

    /// The conversation `requester` may read through History.
    /// `is_peer` says whether a server name is a known peer, whose users'
    /// direct conversations with local users are kept here too.
    pub fn history_target(
        &self,
        requester: &str,
        addr: &str,
        is_peer: impl Fn(&str) -> bool,
    ) -> Rule<Target> {
        match Address::parse(addr).map_err(|_| ErrorType::BadRequest)? {
            Address::User { local, server }
                if server == self.name && (self.has_user(local) || local == POSTMASTER) =>
            {
                Ok(Target::User(addr.to_owned()))
            }
            Address::User { server, .. } if is_peer(server) => Ok(Target::User(addr.to_owned())),
            Address::Channel { server, .. }
                if server == self.name && self.channels.contains_key(addr) =>
            {
                // "User has to member of the channel to perform this action."
                if !self.is_member(addr, requester) {
                    return Err(ErrorType::Unauthorized);
                }
                Ok(Target::Channel(addr.to_owned()))
            }
            _ => Err(ErrorType::NotFound),
        }
    }

    /// ContactAdd: `owner` adds a local user, or a user of a server for
    /// which `is_peer` holds, to their contacts.
    pub fn contact_add(
        &mut self,
        owner: &str,
        addr: &str,
        is_peer: impl Fn(&str) -> bool,
    ) -> Rule<Option<Change>> {
        match Address::parse(addr).map_err(|_| ErrorType::BadRequest)? {
            Address::User { server, .. } if server != self.name && is_peer(server) => {}
            _ => {
                self.local_user(addr)?;
            }
        }
        if addr == owner {
            return Err(ErrorType::BadRequest);
        }
        let owner = local(owner);
        let key = self.conversation_key(owner, addr);
        let user = self.users.get_mut(owner).ok_or(ErrorType::NotFound)?;
        if user.contacts.contains_key(addr) {
            return Ok(None);
        }
        user.contacts.insert(addr.to_owned(), key);
        Ok(Some(Change::AddContact {
            owner: owner.to_owned(),
            contact: addr.to_owned(),
        }))
    }

    /// ContactRemove: `owner` drops a contact.
    pub fn contact_remove(&mut self, owner: &str, addr: &str) -> Rule<Change> {
        match Address::parse(addr).map_err(|_| ErrorType::BadRequest)? {
            Address::User { .. } => {}
            _ => return Err(ErrorType::NotFound),
        };
        let owner = local(owner);
        let user = self.users.get_mut(owner).ok_or(ErrorType::NotFound)?;
        if user.contacts.remove(addr).is_none() {
            return Err(ErrorType::NotFound);
        }
        Ok(Change::RemoveContact {
            owner: owner.to_owned(),
            contact: addr.to_owned(),
        })
    }

    /// Whether local user `owner` (full address) has `addr` as a contact.
    pub fn has_contact(&self, owner: &str, addr: &str) -> bool {
        self.users
            .get(local(owner))
            .is_some_and(|u| u.contacts.contains_key(addr))
    }

    /// The full addresses of `owner`'s contacts, sorted.
    pub fn contacts(&self, owner: &str) -> impl Iterator<Item = &str> + '_ {
        let user = self.users.get(local(owner));
        user.into_iter()
            .flat_map(|u| u.contacts.keys().map(String::as_str))
    }

    /// UserMode: `requester` sets `user`'s mode in `channel` (addresses).
    /// `seq` is the message counter, recorded when a join creates a channel.
    ///
    /// `user` (and `requester`) may be a user of a server for which
    /// `is_peer` holds: such users join and leave channels here, and are
    /// kicked and banned like local ones.
    pub fn user_mode(
        &mut self,
        requester: &str,
        user: &str,
        channel: &str,
        mode: Mode,
        seq: u64,
        is_peer: impl Fn(&str) -> bool,
    ) -> Rule<Vec<Change>> {
        self.local_channel(channel)?;
        match Address::parse(user).map_err(|_| ErrorType::BadRequest)? {
            Address::User { server, .. } if server != self.name && is_peer(server) => {}
            _ => {
                self.local_user(user)?;
            }
        }
        if let Mode::Unknown(_) = mode {
            return Err(ErrorType::BadRequest);
        }
        let mut changes = self.decide_mode(requester, user, channel, mode, seq)?;
        if self.channels.get(channel).is_some_and(|m| !has_members(m)) {
            // The last member left: the channel goes, so abandoned
            // channels never count toward `max_channels`.
            changes.extend(self.delete_channel(channel));
        }
        Ok(changes)
    }

    /// The rules of [`Directory::user_mode`] once its addresses are checked.
    fn decide_mode(
        &mut self,
        requester: &str,
        user: &str,
        channel: &str,
        mode: Mode,
        seq: u64,
    ) -> Rule<Vec<Change>> {
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
                    // Nor can one user take all of them.
                    if self.operated_by(user) >= self.max_channels_per_user {
                        return Err(ErrorType::TooLarge);
                    }
                    // Joining a channel that does not exist creates it and
                    // makes the creator its operator.
                    return Ok(self.create(channel, user, seq));
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
            // The last operator hands over before leaving, demoting or
            // banning themselves, so a channel with members always has
            // one; alone, they may leave and the channel goes.
            _ if own && self.is_last_operator(channel, user) => Err(ErrorType::Unauthorized),
            _ => Ok(self.set(channel, user, mode)),
        }
    }

    /// How many channels `user` is an operator of: the channels a user
    /// creates they operate, until they hand over.
    fn operated_by(&self, user: &str) -> usize {
        let operates = |m: &HashMap<String, Mode>| m.get(user) == Some(&Mode::Operator);
        self.channels.values().filter(|m| operates(m)).count()
    }

    /// Whether `user` is the only operator of `channel` and others remain.
    fn is_last_operator(&self, channel: &str, user: &str) -> bool {
        let Some(modes) = self.channels.get(channel) else {
            return false;
        };
        let operators = modes.values().filter(|m| **m == Mode::Operator).count();
        let members = modes
            .values()
            .filter(|m| matches!(m, Mode::Member | Mode::Operator))
            .count();
        modes.get(user) == Some(&Mode::Operator) && operators == 1 && members > 1
    }

    fn create(&mut self, channel: &str, user: &str, seq: u64) -> Vec<Change> {
        self.channels.insert(channel.to_owned(), HashMap::new());
        let mut changes = vec![Change::CreateChannel {
            channel: channel.to_owned(),
            seq,
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

/// Whether a channel's modes still name a member or an operator.
fn has_members(modes: &HashMap<String, Mode>) -> bool {
    modes
        .values()
        .any(|m| matches!(m, Mode::Member | Mode::Operator))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ErrorType::*;

    fn no_peers(_: &str) -> bool {
        false
    }

    #[test]
    fn users_of_known_peers_can_be_contacts() {
        let mut d = dir();
        let peer = |s: &str| s == "y";
        assert_eq!(d.contact_add("alice@x", "bob@z", peer), Err(NotFound));
        assert!(d.contact_add("alice@x", "bob@y", peer).unwrap().is_some());
        assert!(d.has_contact("alice@x", "bob@y"));
        assert_eq!(
            d.history_target("alice@x", "bob@y", peer),
            Ok(Target::User("bob@y".into()))
        );
        assert_eq!(d.history_target("alice@x", "bob@z", peer), Err(NotFound));
        assert_eq!(
            d.history_target("alice@x", "postmaster@x", peer),
            Ok(Target::User("postmaster@x".into()))
        );
        assert!(d.contact_remove("alice@x", "bob@y").is_ok());
        assert!(!d.has_contact("alice@x", "bob@y"));
    }

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
        assert_eq!(d.route("alice@x", "dave@x"), Err(NotFound));
        assert_eq!(d.route("alice@x", "bob@y"), Err(NotFound));
        assert_eq!(d.route("alice@x", "Bob@x"), Err(BadRequest));
        assert_eq!(d.route("alice@x", "bob@x"), Err(Unauthorized));
        d.contact_add("alice@x", "bob@x", no_peers).unwrap();
        assert_eq!(d.route("alice@x", "bob@x"), Err(Unauthorized));
        assert_eq!(d.route("bob@x", "alice@x"), Err(Unauthorized));
        d.contact_add("bob@x", "alice@x", no_peers).unwrap();
        assert_eq!(
            d.route("alice@x", "bob@x"),
            Ok(Route::Direct("alice@x bob@x".into()))
        );
        assert_eq!(
            d.route("bob@x", "alice@x"),
            Ok(Route::Direct("alice@x bob@x".into()))
        );
        d.contact_remove("bob@x", "alice@x").unwrap();
        assert_eq!(d.route("alice@x", "bob@x"), Err(Unauthorized));
    }

    #[test]
    fn contact_rules() {
        let mut d = dir();
        assert_eq!(
            d.contact_add("alice@x", "alice@x", no_peers),
            Err(BadRequest)
        );
        assert_eq!(d.contact_add("alice@x", "dave@x", no_peers), Err(NotFound));
        assert!(d
            .contact_add("alice@x", "bob@x", no_peers)
            .unwrap()
            .is_some());
        assert_eq!(d.contact_add("alice@x", "bob@x", no_peers), Ok(None));
        assert_eq!(d.contacts("alice@x").collect::<Vec<_>>(), ["bob@x"]);
        assert_eq!(d.contact_remove("alice@x", "carol@x"), Err(NotFound));
    }

    #[test]
    fn join_creates_and_makes_operator() {
        let mut d = dir();
        assert_eq!(d.route("alice@x", "#c@x"), Err(NotFound));
        let changes = d
            .user_mode("alice@x", "alice@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        assert_eq!(changes.len(), 2);
        assert_eq!(d.mode("#c@x", "alice@x"), Some(Mode::Operator));
        assert_eq!(d.route("alice@x", "#c@x"), Ok(Route::Channel));
        assert_eq!(d.route("bob@x", "#c@x"), Err(Unauthorized));
        assert_eq!(
            d.history_target("bob@x", "#c@x", no_peers),
            Err(Unauthorized)
        );
        d.user_mode("bob@x", "bob@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        assert_eq!(d.mode("#c@x", "bob@x"), Some(Mode::Member));
        assert_eq!(d.members("#c@x").count(), 2);
        // Joining again changes nothing, for a member or an operator.
        assert_eq!(
            d.user_mode("bob@x", "bob@x", "#c@x", Mode::Member, 0, no_peers),
            Ok(vec![])
        );
        assert_eq!(
            d.user_mode("alice@x", "alice@x", "#c@x", Mode::Member, 0, no_peers),
            Ok(vec![])
        );
        assert_eq!(d.mode("#c@x", "alice@x"), Some(Mode::Operator));
    }

    #[test]
    fn only_operators_change_others() {
        let mut d = dir();
        d.user_mode("alice@x", "alice@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        d.user_mode("bob@x", "bob@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        for mode in [Mode::Leave, Mode::Member, Mode::Operator, Mode::Banned] {
            assert_eq!(
                d.user_mode("bob@x", "alice@x", "#c@x", mode, 0, no_peers),
                Err(Unauthorized)
            );
        }
        assert_eq!(
            d.user_mode("bob@x", "bob@x", "#c@x", Mode::Operator, 0, no_peers),
            Err(Unauthorized)
        );
        assert_eq!(
            d.user_mode("bob@x", "carol@x", "#none@x", Mode::Banned, 0, no_peers),
            Err(NotFound)
        );
        // Ban a non-member; the ban holds against their join.
        d.user_mode("alice@x", "carol@x", "#c@x", Mode::Banned, 0, no_peers)
            .unwrap();
        assert_eq!(
            d.user_mode("carol@x", "carol@x", "#c@x", Mode::Member, 0, no_peers),
            Err(Unauthorized)
        );
        // Kick, then the kicked member may rejoin; a ban removes membership.
        d.user_mode("alice@x", "bob@x", "#c@x", Mode::Leave, 0, no_peers)
            .unwrap();
        assert_eq!(d.route("bob@x", "#c@x"), Err(Unauthorized));
        d.user_mode("bob@x", "bob@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        d.user_mode("alice@x", "bob@x", "#c@x", Mode::Banned, 0, no_peers)
            .unwrap();
        assert_eq!(d.route("bob@x", "#c@x"), Err(Unauthorized));
        // Operator lifts a ban with 0x01; promotes with 0x02.
        d.user_mode("alice@x", "carol@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        d.user_mode("alice@x", "carol@x", "#c@x", Mode::Operator, 0, no_peers)
            .unwrap();
        d.user_mode("carol@x", "bob@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        assert_eq!(d.route("bob@x", "#c@x"), Ok(Route::Channel));
        assert_eq!(
            d.user_mode("alice@x", "bob@x", "#c@x", Mode::Unknown(9), 0, no_peers),
            Err(BadRequest)
        );
    }

    #[test]
    fn channel_creation_stops_at_the_limit() {
        let mut d = dir();
        for ch in ["#a@x", "#b@x", "#c@x"] {
            d.user_mode("alice@x", "alice@x", ch, Mode::Member, 0, no_peers)
                .unwrap();
        }
        assert_eq!(
            d.user_mode("alice@x", "alice@x", "#d@x", Mode::Member, 0, no_peers),
            Err(TooLarge)
        );
        // Existing channels can still be joined.
        d.user_mode("bob@x", "bob@x", "#a@x", Mode::Member, 0, no_peers)
            .unwrap();
    }

    #[test]
    fn one_user_creates_up_to_max_channels_per_user() {
        let mut d = dir();
        d.set_max_channels(10);
        d.set_max_channels_per_user(2);
        for ch in ["#a@x", "#b@x"] {
            d.user_mode("alice@x", "alice@x", ch, Mode::Member, 0, no_peers)
                .unwrap();
        }
        assert_eq!(
            d.user_mode("alice@x", "alice@x", "#c@x", Mode::Member, 0, no_peers),
            Err(TooLarge)
        );
        // Others still create; handing one over frees a place.
        d.user_mode("bob@x", "bob@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        d.user_mode("bob@x", "bob@x", "#a@x", Mode::Member, 0, no_peers)
            .unwrap();
        d.user_mode("alice@x", "bob@x", "#a@x", Mode::Operator, 0, no_peers)
            .unwrap();
        d.user_mode("alice@x", "alice@x", "#a@x", Mode::Leave, 0, no_peers)
            .unwrap();
        d.user_mode("alice@x", "alice@x", "#d@x", Mode::Member, 0, no_peers)
            .unwrap();
    }

    #[test]
    fn leaving() {
        let mut d = dir();
        assert_eq!(
            d.user_mode("alice@x", "alice@x", "#c@x", Mode::Leave, 0, no_peers),
            Err(NotFound)
        );
        d.user_mode("alice@x", "alice@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        d.user_mode("bob@x", "bob@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        d.user_mode("bob@x", "bob@x", "#c@x", Mode::Leave, 0, no_peers)
            .unwrap();
        assert_eq!(d.route("bob@x", "#c@x"), Err(Unauthorized));
        assert_eq!(
            d.user_mode("bob@x", "bob@x", "#c@x", Mode::Leave, 0, no_peers),
            Err(NotFound)
        );
    }

    #[test]
    fn a_channel_goes_with_its_last_member() {
        let mut d = dir();
        for round in 0..10 {
            for ch in ["#a@x", "#b@x", "#c@x"] {
                d.user_mode("alice@x", "alice@x", ch, Mode::Member, round, no_peers)
                    .unwrap();
            }
            for ch in ["#a@x", "#b@x", "#c@x"] {
                let changes = d
                    .user_mode("alice@x", "alice@x", ch, Mode::Leave, round, no_peers)
                    .unwrap();
                assert_eq!(
                    changes.last(),
                    Some(&Change::DeleteChannel { channel: ch.into() })
                );
            }
        }
        assert_eq!(d.channel_names(), Vec::<String>::new());
        assert_eq!(d.route("alice@x", "#a@x"), Err(NotFound));
    }

    #[test]
    fn a_channel_without_members_in_the_store_is_gone() {
        let mut snap = Snapshot::default();
        snap.users.insert("alice".into(), "h".into());
        for ch in ["#a@x", "#b@x", "#c@x"] {
            let modes = [("bob@x".to_owned(), Mode::Banned)].into();
            snap.channels.insert(ch.into(), modes);
        }
        let mut d = Directory::new("x", 3, snap);
        assert_eq!(d.channel_names(), Vec::<String>::new());
        d.user_mode("alice@x", "alice@x", "#d@x", Mode::Member, 0, no_peers)
            .unwrap();
    }

    #[test]
    fn the_last_operator_hands_over_first() {
        let mut d = dir();
        d.user_mode("alice@x", "alice@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        d.user_mode("bob@x", "bob@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        for mode in [Mode::Leave, Mode::Banned] {
            assert_eq!(
                d.user_mode("alice@x", "alice@x", "#c@x", mode, 0, no_peers),
                Err(Unauthorized)
            );
        }
        assert_eq!(d.mode("#c@x", "alice@x"), Some(Mode::Operator));
        d.user_mode("alice@x", "bob@x", "#c@x", Mode::Operator, 0, no_peers)
            .unwrap();
        d.user_mode("alice@x", "alice@x", "#c@x", Mode::Leave, 0, no_peers)
            .unwrap();
        assert_eq!(d.mode("#c@x", "bob@x"), Some(Mode::Operator));
        // Alone, the last operator may leave: the channel goes.
        let changes = d
            .user_mode("bob@x", "bob@x", "#c@x", Mode::Leave, 0, no_peers)
            .unwrap();
        assert!(changes.contains(&Change::DeleteChannel {
            channel: "#c@x".into()
        }));
    }

    #[test]
    fn deleting_the_last_member_deletes_the_channel() {
        let mut d = dir();
        d.user_mode("alice@x", "alice@x", "#c@x", Mode::Member, 0, no_peers)
            .unwrap();
        let changes = d.delete_user("alice").unwrap();
        assert_eq!(
            changes,
            [
                Change::DeleteUser {
                    name: "alice".into()
                },
                Change::DeleteChannel {
                    channel: "#c@x".into()
                }
            ]
        );
    }

    #[test]
    fn conversation_keys_are_symmetric() {
        assert_eq!(
            Target::User("bob@x".into()).conversation("alice@x"),
            "alice@x bob@x"
        );
        assert_eq!(
            Target::User("alice@x".into()).conversation("bob@x"),
            "alice@x bob@x"
        );
        assert_eq!(Target::Channel("#c@x".into()).conversation("bob@x"), "#c@x");
    }
}
