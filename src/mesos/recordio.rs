//! RecordIO framing of the operator API stream: `<decimal length>\n<that many bytes>`,
//! records back to back. Chunk boundaries carry no meaning, so records are read from a
//! byte stream; lengths are bounded, and a header that does not parse ends the stream
//! (nothing after it can be framed again).

use std::io::{BufRead, BufReader, Read, Take};

/// A length header has at most this many digits (a u64).
const MAX_DIGITS: usize = 20;

/// Why a RecordIO stream cannot be read on.
#[derive(Debug, thiserror::Error)]
pub enum RecordIoError {
    /// A length header that is not a decimal number.
    #[error("record length header is not a decimal number")]
    BadLength,
    /// A record longer than allowed (its length, the limit).
    #[error("record of {0} bytes is over the limit of {1} bytes")]
    TooLong(u64, u64),
    /// The stream ended inside a record.
    #[error("the stream ended inside a record")]
    Truncated,
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Reads records from a byte stream.
pub struct RecordReader<R> {
    inner: BufReader<R>,
}

impl<R: Read> RecordReader<R> {
    /// Reads records from `inner`.
    pub fn new(inner: R) -> RecordReader<R> {
        RecordReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
        }
    }

    /// The length of the next record, at most `limit`; `None` when the stream ends
    /// cleanly between records.
    pub fn next_length(&mut self, limit: u64) -> Result<Option<u64>, RecordIoError> {
        let mut length: u64 = 0;
        let mut digits = 0;
        loop {
            let available = self.inner.fill_buf()?;
            let Some(&byte) = available.first() else {
                return if digits == 0 {
                    Ok(None)
                } else {
                    Err(RecordIoError::Truncated)
                };
            };
            self.inner.consume(1);
            match byte {
                b'\n' if digits > 0 => break,
                b'0'..=b'9' if digits < MAX_DIGITS => {
                    digits += 1;
                    length = length
                        .checked_mul(10)
                        .and_then(|l| l.checked_add(u64::from(byte - b'0')))
                        .ok_or(RecordIoError::BadLength)?;
                }
                _ => return Err(RecordIoError::BadLength),
            }
        }
        if length > limit {
            return Err(RecordIoError::TooLong(length, limit));
        }
        Ok(Some(length))
    }

    /// True when bytes already read from the stream wait in the buffer (more records may
    /// be decoded without waiting).
    pub fn has_buffered(&self) -> bool {
        !self.inner.buffer().is_empty()
    }

    /// The next `length` bytes, read whole (the caller bounded `length`).
    pub fn read_record(&mut self, length: u64) -> Result<Vec<u8>, RecordIoError> {
        let mut data = Vec::new();
        let read = (&mut self.inner).take(length).read_to_end(&mut data)?;
        if (read as u64) < length {
            return Err(RecordIoError::Truncated);
        }
        Ok(data)
    }

    /// A reader over the next `length` bytes, for decoding a large record while it
    /// streams in. The caller must read it to its end (a decoder that checks for
    /// trailing characters does).
    pub fn record_stream(&mut self, length: u64) -> Take<&mut BufReader<R>> {
        (&mut self.inner).take(length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes in pieces of the given sizes, in turn.
    struct Pieces {
        data: Vec<u8>,
        at: usize,
        sizes: Vec<usize>,
        turn: usize,
    }

    impl Read for Pieces {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let size = self.sizes[self.turn % self.sizes.len()].max(1);
            self.turn += 1;
            let n = size.min(buf.len()).min(self.data.len() - self.at);
            buf[..n].copy_from_slice(&self.data[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    fn records(data: &[u8], sizes: Vec<usize>) -> Result<Vec<Vec<u8>>, RecordIoError> {
        let mut r = RecordReader::new(Pieces {
            data: data.to_vec(),
            at: 0,
            sizes,
            turn: 0,
        });
        let mut out = Vec::new();
        while let Some(len) = r.next_length(1000)? {
            out.push(r.read_record(len)?);
        }
        Ok(out)
    }

    #[test]
    fn any_split_reads_the_same_records() {
        let stream = b"5\nhello0\n3\n\xc3\xa9!";
        for sizes in [vec![1], vec![2, 3], vec![7], vec![100], vec![1, 5, 2]] {
            let got = records(stream, sizes).unwrap();
            assert_eq!(
                got,
                vec![b"hello".to_vec(), vec![], "é!".as_bytes().to_vec()]
            );
        }
    }

    #[test]
    fn bad_framing_is_an_error() {
        assert!(matches!(
            records(b"x\n", vec![9]),
            Err(RecordIoError::BadLength)
        ));
        assert!(matches!(
            records(b"\n", vec![9]),
            Err(RecordIoError::BadLength)
        ));
        assert!(matches!(
            records(b"-1\n", vec![9]),
            Err(RecordIoError::BadLength)
        ));
        assert!(matches!(
            records(b"1 \n", vec![9]),
            Err(RecordIoError::BadLength)
        ));
        assert!(matches!(
            records(b"1\r\nx", vec![9]),
            Err(RecordIoError::BadLength)
        ));
        let long = format!("{}\n", "9".repeat(21));
        assert!(matches!(
            records(long.as_bytes(), vec![9]),
            Err(RecordIoError::BadLength)
        ));
        assert!(matches!(
            records(b"99999999999999999999\n", vec![9]),
            Err(RecordIoError::BadLength)
        ));
        assert!(matches!(
            records(b"1001\n", vec![9]),
            Err(RecordIoError::TooLong(1001, 1000))
        ));
        assert!(matches!(
            records(b"5\nhel", vec![2]),
            Err(RecordIoError::Truncated)
        ));
        assert!(matches!(
            records(b"12", vec![2]),
            Err(RecordIoError::Truncated)
        ));
        assert_eq!(records(b"", vec![2]).unwrap(), Vec::<Vec<u8>>::new());
    }
}
