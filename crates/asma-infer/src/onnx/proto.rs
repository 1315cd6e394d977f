//! The few bits of the protobuf wire format an ONNX file needs, written by hand so that the
//! export adds no dependency: varints, length-delimited fields (strings, bytes, nested
//! messages) and packed repeated integers. Fields are appended in the order written;
//! protobuf readers accept any order, so nothing is sorted.

/// Wire types (protobuf encoding spec).
const VARINT: u64 = 0;
const LEN: u64 = 2;

/// A message being encoded: its serialized bytes so far.
#[derive(Default, Clone)]
pub struct Msg {
    buf: Vec<u8>,
}

fn put_varint(buf: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        buf.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buf.push(value as u8);
}

impl Msg {
    pub fn new() -> Self {
        Msg::default()
    }

    #[cfg(test)]
    pub fn bytes(&self) -> &[u8] {
        &self.buf
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    fn key(&mut self, field: u32, wire: u64) {
        put_varint(&mut self.buf, (u64::from(field) << 3) | wire);
    }

    /// An `int64`/`int32`/enum field. Negative values take ten bytes (two's complement as
    /// `u64`), which is what protobuf specifies for `int64` — not zigzag, that is `sint64`.
    pub fn int(&mut self, field: u32, value: i64) -> &mut Self {
        self.key(field, VARINT);
        put_varint(&mut self.buf, value as u64);
        self
    }

    /// A `bytes` field.
    pub fn raw(&mut self, field: u32, data: &[u8]) -> &mut Self {
        self.key(field, LEN);
        put_varint(&mut self.buf, data.len() as u64);
        self.buf.extend_from_slice(data);
        self
    }

    /// A `string` field.
    pub fn string(&mut self, field: u32, s: &str) -> &mut Self {
        self.raw(field, s.as_bytes())
    }

    /// A nested message field.
    pub fn message(&mut self, field: u32, m: &Msg) -> &mut Self {
        self.raw(field, &m.buf)
    }

    /// A repeated `int64` field, packed (one length-delimited run of varints). onnx.proto is
    /// proto2, where repeated scalars default to unpacked, but every parser since protobuf
    /// 2.3 must accept both forms, and packed is smaller.
    pub fn packed_ints(&mut self, field: u32, values: &[i64]) -> &mut Self {
        let mut run = Vec::with_capacity(values.len());
        for &v in values {
            put_varint(&mut run, v as u64);
        }
        self.raw(field, &run)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_match_the_protobuf_documentation() {
        // https://protobuf.dev/programming-guides/encoding/: field 1 = 150 → 08 96 01.
        assert_eq!(Msg::new().int(1, 150).bytes(), [0x08, 0x96, 0x01]);
        assert_eq!(Msg::new().int(1, 0).bytes(), [0x08, 0x00]);
        // 300 → AC 02; field 20 needs a two-byte key: (20 << 3) | 0 = 160 → A0 01.
        assert_eq!(Msg::new().int(20, 300).bytes(), [0xA0, 0x01, 0xAC, 0x02]);
        // int64 −1: ten bytes, the last 0x01.
        let minus_one = Msg::new().int(3, -1).bytes().to_vec();
        assert_eq!(minus_one.len(), 11);
        assert_eq!(minus_one[0], 0x18);
        assert!(minus_one[1..10].iter().all(|&b| b == 0xff));
        assert_eq!(minus_one[10], 0x01);
    }

    #[test]
    fn length_delimited_and_packed_fields() {
        // Field 2 = "testing" → 12 07 74 65 73 74 69 6e 67.
        assert_eq!(Msg::new().string(2, "testing").bytes(), b"\x12\x07testing");
        // Field 4 packed [3, 270, 86942] → 22 06 03 8E 02 9E A7 05.
        assert_eq!(
            Msg::new().packed_ints(4, &[3, 270, 86942]).bytes(),
            [0x22, 0x06, 0x03, 0x8E, 0x02, 0x9E, 0xA7, 0x05]
        );
        let mut inner = Msg::new();
        inner.int(1, 150);
        assert_eq!(
            Msg::new().message(3, &inner).bytes(),
            [0x1a, 0x03, 0x08, 0x96, 0x01]
        );
    }
}
