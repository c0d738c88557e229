//! The checksum of a stored message: what it covers and how it is checked.
//!
//! It guards against damage (a flipped bit on an SD card, a torn page),
//! not against someone who can write the file: they could recompute it.
//! It must stay cheap, since every row a History read looks at is checked.

/// The CRC-32C of a row of [`super::schema::MESSAGES`]: the conversation
/// key's length and bytes, the sequence and `send_time` (big-endian), then
/// the PDU. The key is covered too, so a row whose key was damaged (moved
/// to another conversation or sequence) fails as well.
pub fn checksum(conversation: &[u8], seq: u64, send_time: u64, pdu: &[u8]) -> u32 {
    let len = (conversation.len() as u64).to_be_bytes();
    let mut crc = crc32c::crc32c(&len);
    crc = crc32c::crc32c_append(crc, conversation);
    crc = crc32c::crc32c_append(crc, &seq.to_be_bytes());
    crc = crc32c::crc32c_append(crc, &send_time.to_be_bytes());
    crc32c::crc32c_append(crc, pdu)
}

/// A row that failed its checksum, as reported and skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damaged {
    /// The conversation key, as stored (possibly damaged itself).
    pub conversation: String,
    pub seq: u64,
}

impl std::fmt::Display for Damaged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "message {} of conversation {:?} fails its checksum",
            self.seq, self.conversation
        )
    }
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn every_field_is_covered() {
        let base = checksum(b"#c@x", 7, 100, b"pdu");
        assert_ne!(base, checksum(b"#d@x", 7, 100, b"pdu"));
        assert_ne!(base, checksum(b"#c@x", 8, 100, b"pdu"));
        assert_ne!(base, checksum(b"#c@x", 7, 101, b"pdu"));
        assert_ne!(base, checksum(b"#c@x", 7, 100, b"pdv"));
        // The key's length is covered: bytes cannot slide between fields.
        assert_ne!(checksum(b"ab", 0, 0, b"c"), checksum(b"a", 0, 0, b"bc"));
    }

    /// The on-disk contract: CRC-32C (Castagnoli) over the bytes as
    /// documented, checked against the standard check value.
    #[test]
    fn the_checksum_is_crc32c_over_the_documented_bytes() {
        assert_eq!(crc32c::crc32c(b"123456789"), 0xe306_9283);
        let mut bytes = 4u64.to_be_bytes().to_vec();
        bytes.extend(b"#c@x");
        bytes.extend(7u64.to_be_bytes());
        bytes.extend(100u64.to_be_bytes());
        bytes.extend(b"pdu");
        assert_eq!(checksum(b"#c@x", 7, 100, b"pdu"), crc32c::crc32c(&bytes));
    }
}
