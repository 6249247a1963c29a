//! The short task hash in canonical names (spec §4.3): the top 25 bits of SHA-1(task id)
//! written as five z-base-32 characters, and the agent-id tail.

use sha1::{Digest, Sha1};

const ZBASE32: &[u8; 32] = b"ybndrfg8ejkmcpqxot1uwisza345h769";

/// Five z-base-32 characters of SHA-1(`task_id`). `task_hash("test") == "iffe9"`.
pub fn task_hash(task_id: &str) -> [u8; 5] {
    let digest = Sha1::digest(task_id.as_bytes());
    let top = u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]]);
    let mut out = [0u8; 5];
    for (i, c) in out.iter_mut().enumerate() {
        let group = (top >> (27 - 5 * i)) & 0x1f;
        *c = ZBASE32[group as usize];
    }
    out
}

/// What follows the last `-` of an agent id, lower-cased (`…-2410-0` → `0`, `…-S12` → `s12`).
pub fn agent_tail(agent_id: &str) -> String {
    let tail = agent_id.rsplit('-').next().unwrap_or(agent_id);
    tail.to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(s: &str) -> String {
        String::from_utf8_lossy(&task_hash(s)).into_owned()
    }

    #[test]
    fn spec_hashes() {
        assert_eq!(hash("test"), "iffe9");
        assert_eq!(hash(""), "5eh48");
        // Fixture hashes of spec §9.1.
        assert_eq!(
            hash("liquor-store.b8db9f73-562f-11e4-a088-c20493233aa5"),
            "4dfjd"
        );
        assert_eq!(
            hash("liquor-store.b71166c1-562f-11e4-a088-c20493233aa5"),
            "zasmd"
        );
        assert_eq!(
            hash("car-store.43758382-562f-11e4-a088-c20493233aa5"),
            "zinaz"
        );
        assert_eq!(
            hash("chronos.49b91a9a-3dda-11e4-a088-c20493233aa5"),
            "rx8q6"
        );
        assert_eq!(hash("nginx.1bc32344-3dda-11e4-a088-c20493233aa5"), "6ud99");
        assert_eq!(
            hash("reviewbot.8c9b3434-615a-11e4-a088-c20493233aa5"),
            "8sq89"
        );
        assert_eq!(
            hash("toy-store.b8db9f73-562f-11e4-a088-c20493233aa5"),
            "go588"
        );
        assert_eq!(
            hash("some-box.b8db9f73-562f-11e4-a088-c20493233aa5"),
            "h3dyr"
        );
    }

    #[test]
    fn tails() {
        assert_eq!(agent_tail("20140803-125133-3041283216-5050-2410-0"), "0");
        assert_eq!(agent_tail("abc-S12"), "s12");
        assert_eq!(agent_tail("nodash"), "nodash");
    }
}
