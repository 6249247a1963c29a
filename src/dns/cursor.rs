//! [`Cursor`]: reads a message front to back, every read bounded by the bytes there
//! (`None` past the end), so a parser of untrusted bytes never indexes out of range.

/// A position in a message.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    /// At offset `at` of `bytes`.
    pub(crate) fn new(bytes: &'a [u8], at: usize) -> Cursor<'a> {
        Cursor { bytes, at }
    }

    /// The offset reached.
    pub(crate) fn at(&self) -> usize {
        self.at
    }

    /// The next `n` octets.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    /// A big-endian 16-bit number.
    pub(crate) fn u16(&mut self) -> Option<u16> {
        let b = self.take(2)?;
        Some(u16::from_be_bytes([b[0], b[1]]))
    }

    /// A big-endian 32-bit number.
    pub(crate) fn u32(&mut self) -> Option<u32> {
        let b = self.take(4)?;
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Steps over a name, compressed or not; its octets here (a pointer's two included).
    pub(crate) fn name(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        self.at = super::wire::skip_name(self.bytes, self.at)?;
        self.bytes.get(start..self.at)
    }

    /// Steps over a question (name, type, class): its type.
    pub(crate) fn question(&mut self) -> Option<u16> {
        self.name()?;
        let qtype = self.u16()?;
        self.u16()?;
        Some(qtype)
    }

    /// Steps over a resource record: its type and RDATA.
    pub(crate) fn record(&mut self) -> Option<Record<'a>> {
        self.name()?;
        let rtype = self.u16()?;
        self.take(6)?; // class, TTL
        let len = self.u16()?;
        let rdata_at = self.at;
        let rdata = self.take(usize::from(len))?;
        Some(Record {
            rtype,
            rdata_at,
            rdata,
        })
    }
}

/// One resource record as [`Cursor::record`] read it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Record<'a> {
    /// The type.
    pub(crate) rtype: u16,
    /// Where the RDATA starts in the message.
    pub(crate) rdata_at: usize,
    /// The RDATA.
    pub(crate) rdata: &'a [u8],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end() -> Result<(), &'static str> {
        // A question for "a." type A, then an A record owned by a pointer to it.
        let msg = [
            1, b'a', 0, 0, 1, 0, 1, 0xC0, 0, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1,
        ];
        let mut c = Cursor::new(&msg, 0);
        assert_eq!(c.question(), Some(1));
        let rr = c.record().ok_or("the A record")?;
        assert_eq!(
            (rr.rtype, rr.rdata_at, rr.rdata),
            (1, 19, &[10, 0, 0, 1][..])
        );
        assert_eq!(c.at(), msg.len());
        assert!(c.u16().is_none());
        let mut short = Cursor::new(&msg[..20], 7);
        assert!(short.record().is_none(), "RDATA cut short");
        Ok(())
    }
}
