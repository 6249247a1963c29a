//! Label rules of docs/spec/mesos-dns-behavior.md §4.2: how task, framework, port and protocol names become DNS labels.
//!
//! The algorithm is the reference's, step for step, with one deliberate fix (§10.9): a
//! result never ends in a hyphen, so every non-empty result is a valid label.

/// Which label syntax names must follow (`EnforceRFC952` picks RFC 952).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelSpec {
    /// RFC 1123: up to 63 octets, may start with a digit.
    Rfc1123,
    /// RFC 952: up to 24 octets, starts with a letter.
    Rfc952,
}

impl LabelSpec {
    fn max_len(self) -> usize {
        match self {
            LabelSpec::Rfc1123 => 63,
            LabelSpec::Rfc952 => 24,
        }
    }

    fn cut_from_left(self, c: u8) -> bool {
        match self {
            LabelSpec::Rfc1123 => c == b'-',
            LabelSpec::Rfc952 => c == b'-' || c.is_ascii_digit(),
        }
    }

    /// Turns arbitrary text into one label (dots become hyphens). May return "".
    pub fn label(self, text: &str) -> String {
        let mut label = self.reference_label(text);
        // The reference's refill may leave a trailing hyphen (§10.9): not in a name.
        let kept = trim_trailing_hyphens(label.as_bytes()).len();
        label.truncate(kept);
        label
    }

    /// The label exactly as the reference makes it, which may end in a hyphen (the
    /// refill quirk). The canonical `T-H-S` label starts with it, as the reference's
    /// does: there the hyphen is an inner one, so that name stays valid and the same.
    pub fn reference_label(self, text: &str) -> String {
        let mapped: Vec<u8> = text.chars().filter_map(map_char).collect();
        let start = mapped
            .iter()
            .position(|&c| !self.cut_from_left(c))
            .unwrap_or(mapped.len());
        let body = &mapped[start..];

        let size = body.len().min(self.max_len());
        let mut out = trim_trailing_hyphens(&body[..size]).to_vec();
        if out.len() < size {
            // Hyphens were cut from the end of the first `size` octets: refill the label
            // from what follows, skipping the hyphens that start it.
            let rest = &body[size..];
            let rest_start = rest.iter().position(|&c| c != b'-').unwrap_or(rest.len());
            let rest = &rest[rest_start..];
            let room = size - out.len();
            out.extend_from_slice(&rest[..rest.len().min(room)]);
        }
        // Only ASCII letters, digits and hyphens remain.
        String::from_utf8(out).unwrap_or_default()
    }

    /// `DomainFrag` of the reference: each dot-separated piece becomes a label, empty
    /// pieces are dropped, dots are kept. Used for framework names.
    pub fn domain_fragment(self, text: &str) -> String {
        let mut out = String::with_capacity(text.len());
        for piece in text.split('.') {
            let label = self.label(piece);
            if label.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&label);
        }
        out
    }
}

/// The DC/OS label rule (`*.thisdcos.directory` names): lower case, `.` `_` `-` become
/// `-`, every other character is dropped, leading hyphens removed, at most 63 octets.
/// May return "" (no name).
pub fn dcos_label(text: &str) -> String {
    let mapped: Vec<u8> = text.chars().filter_map(map_char).collect();
    let start = mapped
        .iter()
        .position(|&c| c != b'-')
        .unwrap_or(mapped.len());
    let end = mapped.len().min(start + 63);
    // Only ASCII letters, digits and hyphens remain.
    String::from_utf8(mapped[start..end].to_vec()).unwrap_or_default()
}

fn map_char(c: char) -> Option<u8> {
    match c {
        'A'..='Z' => Some(c.to_ascii_lowercase() as u8),
        'a'..='z' | '0'..='9' => Some(c as u8),
        '-' | '.' | '_' => Some(b'-'),
        _ => None,
    }
}

fn trim_trailing_hyphens(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&c| c != b'-').map_or(0, |i| i + 1);
    &bytes[..end]
}

/// Cuts a label to at most `max` octets without leaving a trailing hyphen.
pub fn shorten_label(label: &str, max: usize) -> &str {
    if label.len() <= max {
        return label;
    }
    // Labels built here are ASCII, so any byte index is a char boundary.
    label[..max].trim_end_matches('-')
}

/// True when `label` is a non-empty DNS hostname label: lower-case letters, digits and
/// inner hyphens, at most 63 octets.
pub fn is_host_label(label: &str) -> bool {
    let bytes = label.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
        && bytes
            .iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

/// True when every dot-separated piece of `text` is a hostname label.
pub fn is_host_fragment(text: &str) -> bool {
    !text.is_empty() && text.split('.').all(is_host_label)
}

#[cfg(test)]
mod tests {
    use super::LabelSpec::{Rfc952, Rfc1123};
    use super::*;

    /// docs/spec/mesos-dns-behavior.md §9.2, label rows: (input, RFC 1123, RFC 952).
    #[test]
    fn label_table() {
        let long_ok = format!("hello{}f", "-".repeat(56));
        let long_cut = format!("hello{}f", "-".repeat(58));
        let rows: Vec<(&str, &str, &str)> = vec![
            ("4abc123", "4abc123", "abc123"),
            ("-4abc123", "4abc123", "abc123"),
            (
                "fd%gsf---gs7-f$gs--d7fddg-123",
                "fdgsf---gs7-fgs--d7fddg-123",
                "fdgsf---gs7-fgs--d7fddg1",
            ),
            (
                "89fdgsf---gs7-fgs--d7fddg---123",
                "89fdgsf---gs7-fgs--d7fddg---123",
                "fdgsf---gs7-fgs--d7fddg1",
            ),
            (
                "89fdgsf---gs7-fgs--d7fddg-",
                "89fdgsf---gs7-fgs--d7fddg",
                "fdgsf---gs7-fgs--d7fddg",
            ),
            (
                "chronos with a space AND MIXED CASE-2.0.1",
                "chronoswithaspaceandmixedcase-2-0-1",
                "chronoswithaspaceandmixe",
            ),
            (&long_ok, &long_ok, "hellof"),
            (&long_cut, "hellof", "hellof"),
            ("---a---b", "a---b", "a---b"),
            ("a.c.d_de.", "a-c-d-de", "a-c-d-de"),
            (
                "r29f.dev.angrypigs",
                "r29f-dev-angrypigs",
                "r29f-dev-angrypigs",
            ),
            ("", "", ""),
            ("-", "", ""),
            ("a---", "a", "a"),
            ("über", "ber", "ber"),
            ("0", "0", ""),
        ];
        for (input, rfc1123, rfc952) in rows {
            assert_eq!(Rfc1123.label(input), rfc1123, "RFC 1123 of {input:?}");
            assert_eq!(Rfc952.label(input), rfc952, "RFC 952 of {input:?}");
        }
    }

    #[test]
    fn long_rfc1123_rows() {
        assert_eq!(
            Rfc1123.label("$$fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-123"),
            "fdgsf---gs7-fgs--d7fddg1234567890123456789012345678901234567891"
        );
        assert_eq!(
            Rfc1123.label("##fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789-"),
            "fdgsf---gs7-fgs--d7fddg123456789012345678901234567890123456789"
        );
    }

    #[test]
    fn refill_never_ends_in_hyphen() {
        // The reference gives "abc-" here (§10.9); a label cannot end in a hyphen.
        let input = format!("ab{}c-", "-".repeat(22));
        assert_eq!(Rfc952.label(&input), "abc");
        assert_eq!(Rfc952.reference_label(&input), "abc-");
    }

    /// docs/spec/mesos-dns-behavior.md §9.2, DomainFrag rows.
    #[test]
    fn domain_fragment_table() {
        let rows = [
            (
                "pod_123$abc.marathon-0.6.0-dev.mesos",
                "pod-123abc.marathon-0.6.0-dev.mesos",
                "pod-123abc.marathon-0.dev.mesos",
            ),
            ("a..c.e", "a.c.e", "a.c.e"),
            (".abc", "abc", "abc"),
            ("(@ host . com", "host.com", "host.com"),
            ("MiXeDcase.CoM", "mixedcase.com", "mixedcase.com"),
            (
                "chronos with a space AND MIXED CASE-2.0.1",
                "chronoswithaspaceandmixedcase-2.0.1",
                "chronoswithaspaceandmixe",
            ),
        ];
        for (input, rfc1123, rfc952) in rows {
            assert_eq!(Rfc1123.domain_fragment(input), rfc1123, "{input:?}");
            assert_eq!(Rfc952.domain_fragment(input), rfc952, "{input:?}");
        }
    }

    #[test]
    fn host_label_checks() {
        assert!(is_host_label("a-b"));
        assert!(!is_host_label("-a"));
        assert!(!is_host_label("a-"));
        assert!(!is_host_label("A"));
        assert!(!is_host_label(""));
        assert!(!is_host_label(&"a".repeat(64)));
        assert!(is_host_fragment("big.dog"));
        assert!(!is_host_fragment("big..dog"));
        assert!(!is_host_fragment("Big.dog"));
        assert_eq!(shorten_label("abc-def", 4), "abc");
    }
}
