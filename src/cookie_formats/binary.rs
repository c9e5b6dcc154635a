//! .NET `BinaryReader`/`BinaryWriter` primitives as ASP.NET's ticket and antiforgery
//! serializers use them: `Int32` little-endian, `Boolean` as one byte, `String` as a 7-bit
//! encoded UTF-8 byte length followed by the bytes.

/// Why bytes could not be read as `BinaryReader` primitives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BinaryError {
    /// The data ends in the middle of a value.
    #[error("the data ends early")]
    Truncated,
    /// A string length is malformed (more than 5 length bytes, or above `i32::MAX`).
    #[error("a string length is malformed")]
    BadLength,
    /// A string is not UTF-8.
    #[error("a string is not UTF-8")]
    BadUtf8,
    /// Bytes follow the last value.
    #[error("bytes follow the last value")]
    TrailingBytes,
}

/// Reads primitives from a byte slice; never reads past its end and never allocates more
/// than the bytes present.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { rest: data }
    }

    /// Bytes not read yet.
    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    /// Fails unless every byte was read.
    pub(crate) fn finish(&self) -> Result<(), BinaryError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(BinaryError::TrailingBytes)
        }
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8], BinaryError> {
        if self.rest.len() < n {
            return Err(BinaryError::Truncated);
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, BinaryError> {
        let (&b, tail) = self.rest.split_first().ok_or(BinaryError::Truncated)?;
        self.rest = tail;
        Ok(b)
    }

    pub(crate) fn i32(&mut self) -> Result<i32, BinaryError> {
        let (head, tail) = self
            .rest
            .split_first_chunk::<4>()
            .ok_or(BinaryError::Truncated)?;
        self.rest = tail;
        Ok(i32::from_le_bytes(*head))
    }

    /// `ReadBoolean`: any non-zero byte is true.
    pub(crate) fn bool(&mut self) -> Result<bool, BinaryError> {
        Ok(self.u8()? != 0)
    }

    /// `Read7BitEncodedInt`: at most 5 bytes, the value in `0..=i32::MAX`.
    fn seven_bit_len(&mut self) -> Result<usize, BinaryError> {
        let mut value: u32 = 0;
        for i in 0..5 {
            let b = self.u8()?;
            if i == 4 && b > 0x07 {
                // A fifth byte above 7 would make the length negative or overflow.
                return Err(BinaryError::BadLength);
            }
            value |= u32::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return usize::try_from(value).map_err(|_| BinaryError::BadLength);
            }
        }
        Err(BinaryError::BadLength)
    }

    /// `ReadString`, strict about UTF-8.
    pub(crate) fn string(&mut self) -> Result<String, BinaryError> {
        let len = self.seven_bit_len()?;
        let bytes = self.bytes(len)?;
        std::str::from_utf8(bytes)
            .map(str::to_owned)
            .map_err(|_| BinaryError::BadUtf8)
    }

    /// A count written as `Int32`; negative counts are `None`.
    pub(crate) fn count(&mut self) -> Result<Option<usize>, BinaryError> {
        let n = self.i32()?;
        Ok(usize::try_from(n).ok())
    }
}

/// Writes primitives into a byte vector.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) out: Vec<u8>,
}

/// A value too large for the .NET format (a count or string length above `i32::MAX`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLarge;

impl Writer {
    pub(crate) fn i32(&mut self, v: i32) {
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub(crate) fn count(&mut self, n: usize) -> Result<(), TooLarge> {
        self.i32(i32::try_from(n).map_err(|_| TooLarge)?);
        Ok(())
    }

    pub(crate) fn bool(&mut self, v: bool) {
        self.out.push(u8::from(v));
    }

    pub(crate) fn bytes(&mut self, b: &[u8]) {
        self.out.extend_from_slice(b);
    }

    pub(crate) fn string(&mut self, s: &str) -> Result<(), TooLarge> {
        let mut len = u32::try_from(s.len())
            .ok()
            .filter(|&n| n <= i32::MAX as u32)
            .ok_or(TooLarge)?;
        while len >= 0x80 {
            self.out.push((len as u8 & 0x7f) | 0x80);
            len >>= 7;
        }
        self.out.push(len as u8);
        self.out.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seven_bit_lengths_match_dotnet() {
        let mut w = Writer::default();
        w.string(&"a".repeat(155)).unwrap();
        assert_eq!(&w.out[..2], &[0x9b, 0x01]);
        let mut r = Reader::new(&w.out);
        assert_eq!(r.string().unwrap().len(), 155);
        r.finish().unwrap();
    }

    #[test]
    fn hostile_lengths_are_errors() {
        // 5-byte length of i32::MAX + 1.
        assert_eq!(
            Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x08]).string(),
            Err(BinaryError::BadLength)
        );
        // Six continuation bytes.
        assert_eq!(
            Reader::new(&[0xff; 6]).string(),
            Err(BinaryError::BadLength)
        );
        // i32::MAX bytes claimed, 1 present: no allocation, an error.
        assert_eq!(
            Reader::new(&[0xff, 0xff, 0xff, 0xff, 0x07, b'a']).string(),
            Err(BinaryError::Truncated)
        );
        assert_eq!(
            Reader::new(&[2, 0xc3, 0x28]).string(),
            Err(BinaryError::BadUtf8)
        );
        assert_eq!(Reader::new(&[1, 2, 3]).i32(), Err(BinaryError::Truncated));
    }
}
