//! Base64 (RFC 4648): the standard alphabet with padding for basic-auth headers, the URL
//! alphabet without padding for JWTs (RFC 7515 §2).

const STANDARD: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Standard alphabet, padded.
pub fn standard(data: &[u8]) -> String {
    encode(data, STANDARD, true)
}

/// URL alphabet, unpadded.
pub fn url(data: &[u8]) -> String {
    encode(data, URL, false)
}

fn encode(data: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else if pad {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes the URL alphabet; trailing padding is tolerated, other characters refused.
pub fn url_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = URL.iter().position(|&a| a == c)? as u32;
        acc = acc << 6 | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4648_vectors() {
        for (input, padded, unpadded) in [
            ("", "", ""),
            ("f", "Zg==", "Zg"),
            ("fo", "Zm8=", "Zm8"),
            ("foo", "Zm9v", "Zm9v"),
            ("foob", "Zm9vYg==", "Zm9vYg"),
            ("fooba", "Zm9vYmE=", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy", "Zm9vYmFy"),
        ] {
            assert_eq!(standard(input.as_bytes()), padded);
            assert_eq!(url(input.as_bytes()), unpadded);
            assert_eq!(url_decode(unpadded).as_deref(), Some(input.as_bytes()));
            assert_eq!(url_decode(padded).as_deref(), Some(input.as_bytes()));
        }
    }

    #[test]
    fn url_alphabet() {
        assert_eq!(url(&[0xfb, 0xff]), "-_8");
        assert_eq!(url_decode("-_8").as_deref(), Some(&[0xfb, 0xff][..]));
        assert_eq!(url_decode("a+b"), None);
    }
}
