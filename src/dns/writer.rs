//! [`MessageWriter`]: one message written into a caller's buffer, never past its limit
//! and without allocating; it counts the records of each section as they go in and
//! writes the header, counts included, when the message is finished. The query path
//! writes every reply through it.

use super::header::{Flags, HEADER_LEN, Header, Section};

/// A message being written.
pub(crate) struct MessageWriter<'a> {
    out: &'a mut [u8],
    len: usize,
    limit: usize,
    header: Header,
}

impl<'a> MessageWriter<'a> {
    /// A message with ID `id` and `flags` (changeable until [`MessageWriter::finish`]),
    /// at most `limit` octets (and at most `out.len()`); `None` when not even a header
    /// fits.
    #[inline]
    pub(crate) fn new(out: &'a mut [u8], limit: usize, id: u16, flags: Flags) -> Option<Self> {
        let limit = limit.min(out.len());
        (limit >= HEADER_LEN).then_some(MessageWriter {
            out,
            len: HEADER_LEN,
            limit,
            header: Header {
                id,
                flags,
                counts: [0; 4],
            },
        })
    }

    /// Octets written so far (the header included).
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The most octets the message may take.
    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    /// Octets still free under the limit.
    #[inline]
    pub(crate) fn room(&self) -> usize {
        self.limit - self.len
    }

    /// The flags the header will carry.
    #[inline]
    pub(crate) fn flags(&self) -> Flags {
        self.header.flags
    }

    /// Replaces the flags (TC or the rcode decided late).
    #[inline]
    pub(crate) fn set_flags(&mut self, flags: Flags) {
        self.header.flags = flags;
    }

    /// Appends `bytes`, which hold `records` whole records (or questions) of `section`;
    /// false, with nothing written, when they do not fit.
    #[inline]
    pub(crate) fn put(&mut self, section: Section, records: u16, bytes: &[u8]) -> bool {
        let Some(place) = self.reserve(section, records, bytes.len()) else {
            return false;
        };
        place.copy_from_slice(bytes);
        true
    }

    /// Room for `len` octets holding `records` records of `section`, to be filled by the
    /// caller; `None` when they do not fit.
    #[inline]
    pub(crate) fn reserve(
        &mut self,
        section: Section,
        records: u16,
        len: usize,
    ) -> Option<&mut [u8]> {
        if len > self.room() {
            return None;
        }
        let start = self.len;
        self.len += len;
        let count = &mut self.header.counts[section as usize];
        *count = count.wrapping_add(records);
        Some(&mut self.out[start..start + len])
    }

    /// Writes the header and gives the message's length (the writer may go on; finish
    /// again to count what it adds).
    #[inline]
    pub(crate) fn finish(&mut self) -> usize {
        self.header.write(self.out);
        self.len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_written_with_the_header_and_the_limit_holds() -> Result<(), &'static str> {
        let mut buf = [0u8; 64];
        let mut w = MessageWriter::new(&mut buf, 40, 7, Flags::QR).ok_or("no room for a header")?;
        assert!(w.put(Section::Question, 1, &[0, 0, 1, 0, 1]));
        assert!(w.put(Section::Answer, 2, &[1; 10]));
        assert!(!w.put(Section::Answer, 1, &[2; 20]), "past the limit");
        assert_eq!(w.room(), 40 - 27);
        w.set_flags(w.flags() | Flags::TC);
        let len = w.finish();
        assert_eq!(len, 27);
        let h = Header::read(&buf).ok_or("no header written")?;
        assert_eq!((h.id, h.counts), (7, [1, 2, 0, 0]));
        assert!(h.flags.contains(Flags::TC | Flags::QR));
        assert!(MessageWriter::new(&mut [0u8; 8], 512, 1, Flags::QR).is_none());
        Ok(())
    }
}
