//! A digest of a state document taken while it streams into the decoder, so that a
//! refresh can tell an unchanged document apart without ever holding it whole.

use foldhash::quality::{FoldHasher, RandomState};
use std::hash::{BuildHasher, Hasher};
use std::io::Read;
use std::sync::OnceLock;

/// Bytes are hashed in blocks of this size, so the digest does not depend on how the
/// transport happened to split the stream into reads.
const BLOCK: usize = 64 * 1024;

/// One seed per process: digests compare within a process only, and a document cannot
/// be crafted to collide with another without knowing it.
fn seed() -> &'static RandomState {
    static SEED: OnceLock<RandomState> = OnceLock::new();
    SEED.get_or_init(RandomState::default)
}

/// Passes reads through, hashing what it passes.
pub(crate) struct DigestReader<R> {
    inner: R,
    hasher: FoldHasher<'static>,
    block: Vec<u8>,
    total: u64,
}

impl<R: Read> DigestReader<R> {
    pub(crate) fn new(inner: R) -> DigestReader<R> {
        DigestReader {
            inner,
            hasher: seed().build_hasher(),
            block: Vec::with_capacity(BLOCK),
            total: 0,
        }
    }

    /// Bytes read so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.total
    }

    /// The digest of everything read so far.
    pub(crate) fn digest(mut self) -> u64 {
        self.hasher.write(&self.block);
        self.hasher.write_u64(self.total);
        self.hasher.finish()
    }
}

impl<R: Read> Read for DigestReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        let mut rest = &buf[..n];
        while !rest.is_empty() {
            let take = rest.len().min(BLOCK - self.block.len());
            self.block.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.block.len() == BLOCK {
                self.hasher.write(&self.block);
                self.block.clear();
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yields its data in reads of the given sizes, cycling.
    struct Chunked<'a> {
        data: &'a [u8],
        sizes: &'a [usize],
        turn: usize,
    }

    impl Read for Chunked<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let size = self.sizes[self.turn % self.sizes.len()].min(buf.len());
            self.turn += 1;
            let n = size.min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn digest_of(data: &[u8], sizes: &[usize]) -> u64 {
        let mut reader = DigestReader::new(Chunked {
            data,
            sizes,
            turn: 0,
        });
        std::io::copy(&mut reader, &mut std::io::sink()).unwrap_or_default();
        reader.digest()
    }

    #[test]
    fn independent_of_read_sizes_and_sensitive_to_content() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let whole = digest_of(&data, &[1 << 20]);
        assert_eq!(whole, digest_of(&data, &[1, 4096, 70_000, 13]));
        assert_eq!(whole, digest_of(&data, &[BLOCK]));
        let mut changed = data.clone();
        changed[200_000] ^= 1;
        assert_ne!(whole, digest_of(&changed, &[1 << 20]));
        assert_ne!(whole, digest_of(&data[..data.len() - 1], &[1 << 20]));
    }
}
