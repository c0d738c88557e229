//! `solec decode` and `solec encode`.
