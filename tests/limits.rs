//! Limits on what one user can make the server hold or do: channels that
//! go with their last member, the last operator's hand-over, channel
//! deletion by the admin, and the per-user rate limit.

use crate::util::*;

const T: u64 = 1_700_000_000;

/// Joining and leaving many channels leaves nothing behind: creation
/// still works past `max_channels` joins, before and after a restart, and
/// a channel created anew does not bring back the old one's messages.
#[test]
fn channels_whose_last_member_left_do_not_count() {
    let mut s = Server::start_with_config("(max_channels: 3)");
    s.add_user("alice", "pw");
    let mut a = s.login("alice", "pw");
    for i in 0..20 {
        let ch = format!("#c{i}@localhost");
        a.send(&user_mode("alice@localhost", &ch, 1));
        a.expect(&SUCCESS);
        a.send(&message("alice@localhost", &ch, T, "old"));
        a.expect(&SUCCESS);
        a.send(&user_mode("alice@localhost", &ch, 0));
        a.expect(&SUCCESS);
    }
    drop(a);
    s.restart();
    let mut a = s.login("alice", "pw");
    for i in 0..3 {
        a.send(&user_mode(
            "alice@localhost",
            &format!("#c{i}@localhost"),
            1,
        ));
        a.expect(&SUCCESS);
    }
    a.send(&user_mode("alice@localhost", "#c3@localhost", 1));
    a.expect(&error(0x81));
    a.send(&history("#c0@localhost", 0, 10, 0));
    a.expect(&SUCCESS);
}

/// The only operator of a channel with other members cannot leave or ban
/// themselves until they made someone else an operator.
#[test]
fn the_last_operator_hands_over_before_leaving() {
    let s = Server::start();
    s.add_user("alice", "pw");
    s.add_user("bob", "pw");
    let ch = "#c@localhost";
    let mut a = s.login("alice", "pw");
    let mut b = s.login("bob", "pw");
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    b.send(&user_mode("bob@localhost", ch, 1));
    b.expect(&SUCCESS);
    for mode in [0, 3] {
        a.send(&user_mode("alice@localhost", ch, mode));
        a.expect(&error(0x03));
    }
    a.send(&user_mode("bob@localhost", ch, 2));
    a.expect(&SUCCESS);
    a.send(&user_mode("alice@localhost", ch, 0));
    a.expect(&SUCCESS);
    // Bob runs the channel now: he can kick, so he is its operator.
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    b.send(&user_mode("alice@localhost", ch, 0));
    b.expect(&SUCCESS);
}

/// A Test PDU: no reply unless it is refused.
fn test_pdu() -> Vec<u8> {
    pdu(0xFF, &[0; 15])
}

/// A user's sessions from outside `trusted_networks` share a token
/// bucket: past the burst each request gets Error 0x84 and is not carried
/// out; a session from a trusted address and other users are served.
#[test]
fn requests_past_the_rate_limit_are_told_to_slow_down() {
    let s = Server::start_with_config("(rate_limit_burst: 20, rate_limit_per_sec: 1)");
    s.add_user("alice", "pw");
    s.add_user("bob", "pw");
    let login_from = |source: [u8; 4], user: &str| {
        let mut c = s.connect_from(source).expect("127.0.0.2 is loopback");
        c.send(&handshake(0, 5, 1));
        c.send(&user_auth(user, "pw"));
        c.expect(&SUCCESS);
        c
    };
    let mut remote = login_from([127, 0, 0, 2], "alice");
    let mut other = login_from([127, 0, 0, 3], "alice");
    remote.send(&test_pdu().repeat(15));
    other.send(&test_pdu().repeat(5));
    // The bucket is empty now: the join is refused, not carried out.
    other.send(&user_mode("alice@localhost", "#c@localhost", 1));
    other.expect(&error(0x84));
    remote.send(&[test_pdu(), test_pdu(), pdu(0x82, &[])].concat());
    remote.expect(&[error(0x84), error(0x84), error(0x84)].concat());
    // Bob and alice's trusted session are served meanwhile.
    let mut bob = login_from([127, 0, 0, 4], "bob");
    bob.send(&pdu(0x82, &[]));
    bob.expect(&SUCCESS);
    let mut local = s.login("alice", "pw");
    local.send(&test_pdu().repeat(100));
    local.send(&user_mode("alice@localhost", "#c@localhost", 1));
    local.expect(&SUCCESS);
}

/// `solec channel delete` removes a channel, its modes and its messages,
/// through a running server or offline, and ends nothing else.
#[test]
fn an_admin_deletes_a_channel_and_nothing_else() {
    let mut s = Server::start();
    s.add_user("alice", "pw");
    s.add_user("bob", "pw");
    let ch = "#c@localhost";
    let mut a = s.login("alice", "pw");
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    a.send(&user_mode("bob@localhost", ch, 3));
    a.expect(&SUCCESS);
    a.send(&message("alice@localhost", ch, T, "gone soon"));
    a.expect(&SUCCESS);
    let delete =
        |s: &Server, channel: &str| run(&["channel", "delete", channel, "--data", s.data()], b"");
    let out = delete(&s, "#c@localhost");
    assert!(out.status.success(), "{out:?}");
    // Alice's session stays; the channel, its ban and history are gone.
    a.send(&history(ch, 0, 10, 0));
    a.expect(&error(0x02));
    let mut b = s.login("bob", "pw");
    b.send(&user_mode("bob@localhost", ch, 1));
    b.expect(&SUCCESS);
    b.send(&history(ch, 0, 10, 0));
    b.expect(&SUCCESS);
    let out = delete(&s, "#none@localhost");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("no channel #none@localhost"));
    drop((a, b));
    // Offline, on the store itself; `c` means #c@ the configured name.
    assert!(s.stop().success());
    let out = delete(&s, "c");
    assert!(out.status.success(), "{out:?}");
    s.restart();
    let mut b = s.login("bob", "pw");
    b.send(&history(ch, 0, 10, 0));
    b.expect(&error(0x02));
}

/// One user cannot take every channel: past `max_channels_per_user`
/// channels they operate, their joins that would create one get 0x81.
#[test]
fn one_user_creates_at_most_max_channels_per_user() {
    let s = Server::start_with_config("(max_channels_per_user: 2)");
    s.add_user("alice", "pw");
    s.add_user("bob", "pw");
    let mut a = s.login("alice", "pw");
    for ch in ["#a@localhost", "#b@localhost"] {
        a.send(&user_mode("alice@localhost", ch, 1));
        a.expect(&SUCCESS);
    }
    a.send(&user_mode("alice@localhost", "#c@localhost", 1));
    a.expect(&error(0x81));
    let mut b = s.login("bob", "pw");
    b.send(&user_mode("bob@localhost", "#c@localhost", 1));
    b.expect(&SUCCESS);
    // Joining an existing channel is no creation.
    a.send(&user_mode("alice@localhost", "#c@localhost", 1));
    a.expect(&SUCCESS);
}

/// A user's stored bytes are bounded: past `max_stored_bytes_per_user` a
/// Message gets Error 0x81 and is not stored; the count survives a
/// restart, is the user's alone, and goes down when their messages go
/// (a channel deleted, a conversation partner deleted).
#[test]
fn a_user_cannot_store_more_than_their_quota() {
    let one = message("alice@localhost", "#room@localhost", T, "0123456789").len();
    let mut s = Server::start_with_config(&format!("(max_stored_bytes_per_user: {})", 3 * one));
    for name in ["alice", "bob", "carol"] {
        s.add_user(name, "pw");
    }
    // As long as "carol@localhost": a direct message costs the same.
    let ch = "#room@localhost";
    let mut a = s.login("alice", "pw");
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    for i in 0..3 {
        a.send(&message("alice@localhost", ch, T + i, "0123456789"));
        a.expect(&SUCCESS);
    }
    a.send(&message("alice@localhost", ch, T + 3, "0123456789"));
    a.expect(&error(0x81));
    // A shorter one would fit no better: the quota is full.
    a.send(&message("alice@localhost", ch, T + 3, "x"));
    a.expect(&error(0x81));
    // Nothing of the refused ones was stored.
    a.send(&history(ch, 0, 10, 0));
    for i in 0..3 {
        a.expect(&message("alice@localhost", ch, T + i, "0123456789"));
    }
    a.expect(&SUCCESS);
    // Bob is not charged for alice's messages.
    let mut b = s.login("bob", "pw");
    b.send(&user_mode("bob@localhost", ch, 1));
    b.expect(&SUCCESS);
    b.send(&message("bob@localhost", ch, T, "0123456789"));
    b.expect(&SUCCESS);
    drop((a, b));
    s.restart();
    let mut a = s.login("alice", "pw");
    a.send(&message("alice@localhost", ch, T + 4, "0123456789"));
    a.expect(&error(0x81));
    // The channel goes, and alice's bytes with it.
    let out = run(&["channel", "delete", ch, "--data", s.data()], b"");
    assert!(out.status.success(), "{out:?}");
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    a.send(&message("alice@localhost", ch, T + 5, "0123456789"));
    a.expect(&SUCCESS);
    a.send(&user_mode("alice@localhost", ch, 0));
    a.expect(&SUCCESS);
    // A direct conversation counts too, and goes with the partner.
    a.send(&contact_add("carol@localhost"));
    a.expect(&SUCCESS);
    let mut c = s.login("carol", "pw");
    c.send(&contact_add("alice@localhost"));
    c.expect(&SUCCESS);
    drop(c);
    for i in 0..3 {
        a.send(&message(
            "alice@localhost",
            "carol@localhost",
            T + i,
            "0123456789",
        ));
        a.expect(&SUCCESS);
    }
    a.send(&message(
        "alice@localhost",
        "carol@localhost",
        T + 9,
        "0123456789",
    ));
    a.expect(&error(0x81));
    let out = run(&["user", "del", "carol", "--data", s.data()], b"");
    assert!(out.status.success(), "{out:?}");
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    for i in 0..3 {
        a.send(&message("alice@localhost", ch, T + 10 + i, "0123456789"));
        a.expect(&SUCCESS);
    }
    a.send(&message("alice@localhost", ch, T + 20, "0123456789"));
    a.expect(&error(0x81));
}

/// A History request looks at `max_history_scan` stored messages at
/// most: an offset at or past it is refused at once, and a reply that
/// reaches it ends with Error 0x81 after the messages it found.
#[test]
fn a_history_request_looks_at_a_bounded_number_of_messages() {
    let s = Server::start_with_config("(max_history_scan: 10)");
    s.add_user("alice", "pw");
    let ch = "#c@localhost";
    let mut a = s.login("alice", "pw");
    a.send(&user_mode("alice@localhost", ch, 1));
    a.expect(&SUCCESS);
    for i in 0..25 {
        a.send(&message("alice@localhost", ch, T + i, "m"));
        a.expect(&SUCCESS);
    }
    a.send(&history(ch, 0, 50, 10));
    a.expect(&error(0x81));
    // Offset 4: four skipped, six sent, then the bound.
    a.send(&history(ch, 0, 50, 4));
    for i in 4..10 {
        a.expect(&message("alice@localhost", ch, T + i, "m"));
    }
    a.expect(&error(0x81));
    // A reply within the bound ends as usual; so does one from a later
    // since, which the seek finds without looking at what came before.
    a.send(&history(ch, 0, 3, 7));
    for i in 7..10 {
        a.expect(&message("alice@localhost", ch, T + i, "m"));
    }
    a.expect(&SUCCESS);
    a.send(&history(ch, T + 20, 50, 0));
    for i in 20..25 {
        a.expect(&message("alice@localhost", ch, T + i, "m"));
    }
    a.expect(&SUCCESS);
}
