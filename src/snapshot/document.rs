//! A large document kept in 1 MiB chunks: built without the copies (and the doubled
//! peak memory) of a growing `Vec`, and written out chunk by chunk.

use std::io::{self, Write};

const CHUNK: usize = 1 << 20;

/// The large JSON documents of the HTTP API, rendered by the control thread from the
/// model on request (the snapshot keeps no second copy of every record for them).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DocumentKind {
    /// `/v1/enumerate`
    Enumerate,
    /// `/v1/axfr`
    Axfr,
}

/// A request for a document, answered on `reply` with the document of serial `serial`.
#[derive(Debug)]
pub struct DocumentRequest {
    pub kind: DocumentKind,
    pub reply: crossbeam_channel::Sender<(u32, std::sync::Arc<Document>)>,
}

#[derive(Debug, Default)]
pub struct Document {
    chunks: Vec<Vec<u8>>,
}

impl Document {
    pub fn len(&self) -> usize {
        self.chunks.iter().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().map(Vec::as_slice)
    }

    /// The whole document in one buffer (for tests and small documents).
    pub fn to_vec(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

impl Write for Document {
    fn write(&mut self, mut buf: &[u8]) -> io::Result<usize> {
        let written = buf.len();
        while !buf.is_empty() {
            if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
                self.chunks.push(Vec::with_capacity(CHUNK));
            }
            if let Some(last) = self.chunks.last_mut() {
                let take = buf.len().min(CHUNK - last.len());
                last.extend_from_slice(&buf[..take]);
                buf = &buf[take..];
            }
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_hold_everything_in_order() {
        let mut d = Document::default();
        let data: Vec<u8> = (0..3 * CHUNK + 17).map(|i| i as u8).collect();
        for piece in data.chunks(1000) {
            d.write_all(piece).unwrap(); // ok: test
        }
        assert_eq!(d.len(), data.len());
        assert_eq!(d.chunks().count(), 4);
        assert_eq!(d.to_vec(), data);
    }
}
