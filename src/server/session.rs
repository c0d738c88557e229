//! The per-connection state machine up to authentication (draft 2.5.1).
//!
//! Pure: it takes decoded PDUs and the outcome of a password check and
//! returns what the connection driver must do. After `Success` the driver
//! forwards every frame to the hub, which answers requests in order. A
//! Handshake with `conn_type` 0x02 hands the connection to the link
//! handshake ([`super::federation::link::Acceptor`]).

use crate::proto::{ConnType, ErrorType, Pdu, TOKEN_LEN, VERSION_MAJOR};

/// Where a connection is in the client sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Waiting for Handshake.
    Handshake,
    /// Handshake accepted; waiting for UserAuth or TokenAuth.
    Auth,
    /// UserAuth or TokenAuth received; the password or token is being
    /// checked.
    Verifying,
    /// Authenticated: requests go to the hub.
    Ready,
    /// A server-to-server Handshake: the link handshake takes over.
    Link,
    /// The connection is to be closed.
    Closed,
}

/// What the driver does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action<'a> {
    /// Nothing to send (a good Handshake, a Test PDU).
    Nothing,
    /// Check these credentials, then call [`Session::on_verified`].
    Verify {
        username: &'a str,
        password: &'a str,
    },
    /// Check this session token (extension 0x8E, in place of UserAuth),
    /// then call [`Session::on_verified`].
    VerifyToken {
        username: &'a str,
        token: &'a [u8; TOKEN_LEN],
    },
    /// Send this Error, then close.
    Refuse(ErrorType),
    /// Close without a reply.
    Close,
    /// Run the link handshake on the rest of the connection.
    Link,
}

/// A connection's authentication state.
#[derive(Debug)]
pub struct Session {
    phase: Phase,
}

impl Default for Session {
    fn default() -> Self {
        Session {
            phase: Phase::Handshake,
        }
    }
}

impl Session {
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// A PDU arrived before authentication completed.
    pub fn on_pdu<'a>(&mut self, pdu: &Pdu<'a>) -> Action<'a> {
        match (self.phase, pdu) {
            // "Clients and servers should ignore this kind of payload."
            (_, Pdu::Test(_)) => Action::Nothing,
            (Phase::Handshake, Pdu::Handshake(h)) => self.on_handshake(h.ver_major, h.conn_type),
            (Phase::Auth, Pdu::UserAuth(a)) => {
                self.phase = Phase::Verifying;
                Action::Verify {
                    username: a.username,
                    password: a.password,
                }
            }
            (Phase::Auth, Pdu::TokenAuth(t)) => {
                self.phase = Phase::Verifying;
                Action::VerifyToken {
                    username: t.username,
                    token: t.token,
                }
            }
            _ => self.refuse(ErrorType::BadRequest),
        }
    }

    fn on_handshake(&mut self, major: u8, conn_type: ConnType) -> Action<'static> {
        // "If [ver_major] does not match server protocol version close the
        // connection."
        if major != VERSION_MAJOR {
            self.phase = Phase::Closed;
            return Action::Close;
        }
        match conn_type {
            ConnType::User => {
                self.phase = Phase::Auth;
                Action::Nothing
            }
            ConnType::Server => {
                self.phase = Phase::Link;
                Action::Link
            }
            ConnType::Unknown(_) => self.refuse(ErrorType::BadRequest),
        }
    }

    /// A PDU that could not be decoded arrived before authentication.
    pub fn on_malformed(&mut self) -> Action<'static> {
        self.refuse(ErrorType::BadRequest)
    }

    /// The password check finished. On success the hub sends `Success`.
    pub fn on_verified(&mut self, ok: bool) -> Action<'static> {
        if ok {
            self.phase = Phase::Ready;
            Action::Nothing
        } else {
            // "If [username] or [password] does not match [send Error 0x01]
            // and close the connection."
            self.refuse(ErrorType::AuthFailed)
        }
    }

    fn refuse(&mut self, e: ErrorType) -> Action<'static> {
        self.phase = Phase::Closed;
        Action::Refuse(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::{Handshake, Test, UserAuth};

    fn hello(major: u8, conn_type: u8) -> Pdu<'static> {
        Pdu::Handshake(Handshake {
            ver_major: major,
            ver_minor: 9,
            conn_type: conn_type.into(),
        })
    }

    const AUTH: Pdu<'static> = Pdu::UserAuth(UserAuth {
        username: "alice",
        password: "pw",
    });

    #[test]
    fn the_client_sequence() {
        let mut s = Session::default();
        assert_eq!(s.on_pdu(&hello(0, 1)), Action::Nothing);
        assert_eq!(
            s.on_pdu(&AUTH),
            Action::Verify {
                username: "alice",
                password: "pw"
            }
        );
        assert_eq!(s.phase(), Phase::Verifying);
        assert_eq!(s.on_verified(true), Action::Nothing);
        assert_eq!(s.phase(), Phase::Ready);
    }

    #[test]
    fn a_token_takes_the_place_of_the_password() {
        let token = [7u8; TOKEN_LEN];
        let auth = Pdu::TokenAuth(crate::proto::TokenAuth {
            username: "alice",
            token: &token,
        });
        let mut s = Session::default();
        // Before the Handshake, a TokenAuth is out of order like UserAuth.
        assert_eq!(s.on_pdu(&auth), Action::Refuse(ErrorType::BadRequest));
        let mut s = Session::default();
        s.on_pdu(&hello(0, 1));
        assert_eq!(
            s.on_pdu(&auth),
            Action::VerifyToken {
                username: "alice",
                token: &token
            }
        );
        assert_eq!(s.on_verified(false), Action::Refuse(ErrorType::AuthFailed));
    }

    #[test]
    fn wrong_password_refuses() {
        let mut s = Session::default();
        s.on_pdu(&hello(0, 1));
        s.on_pdu(&AUTH);
        assert_eq!(s.on_verified(false), Action::Refuse(ErrorType::AuthFailed));
        assert_eq!(s.phase(), Phase::Closed);
    }

    #[test]
    fn handshake_checks() {
        assert_eq!(Session::default().on_pdu(&hello(1, 1)), Action::Close);
        assert_eq!(Session::default().on_pdu(&hello(0, 2)), Action::Link);
        assert_eq!(
            Session::default().on_pdu(&hello(0, 7)),
            Action::Refuse(ErrorType::BadRequest)
        );
    }

    #[test]
    fn out_of_order_refuses_and_test_is_ignored() {
        let test = Pdu::Test(Test {
            num1: 0,
            num2: 0,
            num3: 0,
            num4: 0,
        });
        let mut s = Session::default();
        assert_eq!(s.on_pdu(&test), Action::Nothing);
        assert_eq!(s.on_pdu(&AUTH), Action::Refuse(ErrorType::BadRequest));
        let mut s = Session::default();
        s.on_pdu(&hello(0, 1));
        assert_eq!(s.on_pdu(&test), Action::Nothing);
        assert_eq!(
            s.on_pdu(&hello(0, 1)),
            Action::Refuse(ErrorType::BadRequest)
        );
    }
}
