//! Resource port ranges (docs/spec/mesos-dns-behavior.md §3.5): `"[31000-31001, 31005-31005]"` → 31000, 31001, 31005.

/// The ports of a range string, in listed order. Malformed pieces are skipped (the
/// reference crashes on `[80]` and on strings without `[`; we read `[80]` as 80..80 and
/// report the rest as malformed). Returns the ports and whether anything was malformed.
pub(crate) fn parse_port_ranges(text: &str) -> (Vec<u16>, bool) {
    let text = text.trim();
    let mut ports = Vec::new();
    if text.is_empty() || text == "[]" {
        return (ports, false);
    }
    let Some(open) = text.find('[') else {
        return (ports, true);
    };
    let inner = &text[open + 1..];
    let inner = match inner.find(']') {
        Some(close) => &inner[..close],
        None => return (ports, true),
    };
    let mut malformed = false;
    for piece in inner.split(',') {
        let piece = piece.trim();
        if piece.is_empty() {
            continue;
        }
        let (lo, hi) = piece.split_once('-').unwrap_or((piece, piece));
        match (lo.trim().parse::<u16>(), hi.trim().parse::<u16>()) {
            (Ok(lo), Ok(hi)) => ports.extend(lo..=hi),
            _ => malformed = true,
        }
    }
    (ports, malformed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/spec/mesos-dns-behavior.md §9.9, port rows, plus the inputs that crash the reference.
    #[test]
    fn ranges() {
        assert_eq!(
            parse_port_ranges("[31111-31111, 31115-31117]"),
            (vec![31111, 31115, 31116, 31117], false)
        );
        assert_eq!(parse_port_ranges("[abc-82, 90-91]"), (vec![90, 91], true));
        assert_eq!(parse_port_ranges("[5-3]"), (vec![], false));
        assert_eq!(parse_port_ranges("[]"), (vec![], false));
        assert_eq!(parse_port_ranges(""), (vec![], false));
        assert_eq!(parse_port_ranges("[80]"), (vec![80], false));
        assert_eq!(parse_port_ranges("80-81"), (vec![], true));
        assert_eq!(parse_port_ranges("[80-81"), (vec![], true));
        assert_eq!(parse_port_ranges("[70000-70001]"), (vec![], true));
    }
}
