//! A line reader with a memory bound: a line longer than the message limit is kept only up to
//! that limit (it is dead-lettered as oversized anyway), so one huge line cannot exhaust memory.

use std::io::{self, BufRead};

/// One line of input.
#[derive(Debug, Default)]
pub struct Line {
    /// The bytes kept (without the newline or a trailing CR).
    pub bytes: Vec<u8>,
    /// Total length of the line, including bytes not kept.
    pub full_len: usize,
}

/// Reads lines, keeping at most `keep` bytes of each.
pub struct BoundedLines<R> {
    inner: R,
    keep: usize,
}

impl<R: BufRead> BoundedLines<R> {
    /// Wrap a reader.
    pub fn new(inner: R, keep: usize) -> Self {
        BoundedLines { inner, keep }
    }

    /// The next line, or `None` at end of input.
    pub fn next_line(&mut self, line: &mut Line) -> io::Result<bool> {
        line.bytes.clear();
        line.full_len = 0;
        let mut saw_any = false;
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            saw_any = true;
            let (chunk, done) = match memchr::memchr(b'\n', buf) {
                Some(i) => (&buf[..i], Some(i + 1)),
                None => (buf, None),
            };
            let room = self.keep.saturating_sub(line.bytes.len());
            line.bytes
                .extend_from_slice(&chunk[..chunk.len().min(room)]);
            line.full_len += chunk.len();
            let consumed = done.unwrap_or(buf.len());
            self.inner.consume(consumed);
            if done.is_some() {
                break;
            }
        }
        if line.bytes.last() == Some(&b'\r') && line.full_len == line.bytes.len() {
            line.bytes.pop();
            line.full_len -= 1;
        }
        Ok(saw_any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_bounds_long_ones() {
        let input = b"ab\r\n\nxxxxxxxxxx\nlast";
        let mut r = BoundedLines::new(&input[..], 4);
        let mut l = Line::default();
        let mut seen = Vec::new();
        while r.next_line(&mut l).unwrap() {
            seen.push((String::from_utf8(l.bytes.clone()).unwrap(), l.full_len));
        }
        assert_eq!(
            seen,
            vec![
                ("ab".into(), 2),
                ("".into(), 0),
                ("xxxx".into(), 10),
                ("last".into(), 4)
            ]
        );
    }
}
