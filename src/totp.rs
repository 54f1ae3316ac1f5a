//! TOTP codes (RFC 6238: HMAC-SHA1, 30-second steps, 6 digits) for two-factor password logins.

use ring::hmac;

/// Decodes an RFC 4648 base32 secret as authenticator apps show it: case-insensitive, spaces
/// and `=` padding ignored.
pub fn decode_base32(text: &str) -> Result<Vec<u8>, String> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bits: u64 = 0;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=' && *c != b'-')
    {
        let value = ALPHABET
            .iter()
            .position(|a| *a == c.to_ascii_uppercase())
            .ok_or_else(|| format!("'{}' is not a base32 character (A-Z, 2-7)", c as char))?;
        bits = (bits << 5) | value as u64;
        count += 5;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    if out.len() < 10 {
        return Err(format!(
            "the secret is {} bytes long; a TOTP secret has at least 10 (16 base32 characters)",
            out.len()
        ));
    }
    Ok(out)
}

/// The 6-digit code for `key` at Unix time `unix`.
pub fn code(key: &[u8], unix: u64) -> String {
    format!("{:06}", hotp(key, unix / 30) % 1_000_000)
}

/// RFC 4226 HOTP value (before taking the last digits).
fn hotp(key: &[u8], counter: u64) -> u32 {
    let tag = hmac::sign(
        &hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key),
        &counter.to_be_bytes(),
    );
    let mac = tag.as_ref();
    let offset = usize::from(mac[mac.len() - 1] & 0x0f);
    u32::from_be_bytes([
        mac[offset] & 0x7f,
        mac[offset + 1],
        mac[offset + 2],
        mac[offset + 3],
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vectors() {
        let key = b"12345678901234567890";
        for (time, eight_digits) in [
            (59, 94_287_082),
            (1_111_111_109, 7_081_804),
            (1_111_111_111, 14_050_471),
            (1_234_567_890, 89_005_924),
            (2_000_000_000, 69_279_037),
            (20_000_000_000, 65_353_130),
        ] {
            assert_eq!(hotp(key, time / 30) % 100_000_000, eight_digits, "T={time}");
            assert_eq!(code(key, time), format!("{:06}", eight_digits % 1_000_000));
        }
    }

    #[test]
    fn base32() {
        // "12345678901234567890" in base32, as an authenticator app would show it.
        assert_eq!(
            decode_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ").unwrap(),
            b"12345678901234567890"
        );
        assert_eq!(
            decode_base32("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap(),
            b"12345678901234567890"
        );
        assert!(decode_base32("GEZDGNBVGY3TQOJ1")
            .unwrap_err()
            .contains("'1' is not a base32 character"));
        assert!(decode_base32("GEZDGNBV")
            .unwrap_err()
            .contains("at least 10"));
    }
}
