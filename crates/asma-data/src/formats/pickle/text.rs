//! The text encodings of protocol 0 (`INT`, `LONG`, `FLOAT`, `STRING`, `UNICODE`) and the
//! Latin-1 conversions Python uses to carry bytes inside `str` (protocol 2 `_codecs.encode`).

/// Parses the argument of `INT` / `LONG` (Python's `int(text, 0)` on what Python writes:
/// optional sign, decimal digits, or a `0x` / `0o` / `0b` prefix). Beyond `i64` is an error.
pub(super) fn parse_int(text: &[u8]) -> Result<i64, String> {
    let shown = String::from_utf8_lossy(text).into_owned();
    let t = text.trim_ascii();
    let (negative, t) = match t.first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = match t {
        [b'0', b'x' | b'X', rest @ ..] => (16, rest),
        [b'0', b'o' | b'O', rest @ ..] => (8, rest),
        [b'0', b'b' | b'B', rest @ ..] => (2, rest),
        _ => (10, t),
    };
    // `from_str_radix` would take a second sign; only digits may follow ours.
    if digits.is_empty() || !digits.iter().all(|c| c.is_ascii_alphanumeric()) {
        return Err(format!("'{shown}' is not an integer"));
    }
    let digits = std::str::from_utf8(digits).map_err(|_| format!("'{shown}' is not an integer"))?;
    let magnitude = u64::from_str_radix(digits, radix).map_err(|e| match e.kind() {
        std::num::IntErrorKind::PosOverflow => {
            format!("integer {shown} does not fit in 64 bits")
        }
        _ => format!("'{shown}' is not an integer"),
    })?;
    let value = if negative {
        -(magnitude as i128)
    } else {
        magnitude as i128
    };
    i64::try_from(value).map_err(|_| format!("integer {shown} does not fit in 64 bits"))
}

/// Parses the argument of `FLOAT` (Python's `repr` of a float: `1.5`, `1e+300`, `inf`, `nan`).
pub(super) fn parse_float(text: &[u8]) -> Result<f64, String> {
    std::str::from_utf8(text)
        .ok()
        .and_then(|s| s.trim().parse::<f64>().ok())
        .ok_or_else(|| format!("'{}' is not a float", String::from_utf8_lossy(text)))
}

/// Each byte as the Unicode code point of the same value (Latin-1 decoding never fails).
pub(super) fn latin1_to_string(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

/// Latin-1 encoding; a code point above U+00FF cannot be a byte. Works on the UTF-8 bytes
/// directly (U+0080..U+00FF are the two-byte sequences led by 0xC2 / 0xC3): protocol-2
/// NumPy files pass all their array data through here.
pub(super) fn string_to_latin1(text: &str) -> Result<Vec<u8>, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match (b, bytes.get(i + 1)) {
            (0..=0x7f, _) => {
                out.push(b);
                i += 1;
            }
            (0xc2 | 0xc3, Some(&next)) => {
                out.push(((b & 0x03) << 6) | (next & 0x3f));
                i += 2;
            }
            _ => {
                let c = text.get(i..).and_then(|t| t.chars().next()).unwrap_or('?');
                return Err(format!("character U+{:04X} is not Latin-1", u32::from(c)));
            }
        }
    }
    Ok(out)
}

/// Decodes the body of a protocol-0 `STRING` (a Python 2 `repr` without its quotes), like
/// Python's `codecs.escape_decode`: `\\ \' \" \a \b \f \n \r \t \v`, `\xhh`, octal `\ooo`,
/// backslash-newline as nothing, any other escape kept verbatim.
pub(super) fn escape_decode(body: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        i += 1;
        if c != b'\\' {
            out.push(c);
            continue;
        }
        let Some(&e) = body.get(i) else {
            return Err("trailing '\\' in STRING".into());
        };
        i += 1;
        match e {
            b'\n' => {}
            b'\\' | b'\'' | b'"' => out.push(e),
            b'a' => out.push(0x07),
            b'b' => out.push(0x08),
            b'f' => out.push(0x0c),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'v' => out.push(0x0b),
            b'x' => {
                let hex = body
                    .get(i..i + 2)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or("invalid \\x escape in STRING")?;
                out.push(hex);
                i += 2;
            }
            b'0'..=b'7' => {
                // Up to three octal digits, the first already read; Python keeps the low
                // 8 bits of values above 0o377.
                let mut value = u32::from(e - b'0');
                for _ in 0..2 {
                    match body.get(i) {
                        Some(&d @ b'0'..=b'7') => {
                            value = value * 8 + u32::from(d - b'0');
                            i += 1;
                        }
                        _ => break,
                    }
                }
                out.push(value as u8);
            }
            other => {
                out.push(b'\\');
                out.push(other);
            }
        }
    }
    Ok(out)
}

/// Decodes a protocol-0 `UNICODE` line (`raw-unicode-escape`): bytes are Latin-1 code points
/// except `\uXXXX` and `\UXXXXXXXX`, which count as escapes only after an odd number of
/// backslashes (an even run is literal backslashes).
pub(super) fn raw_unicode_escape(line: &[u8]) -> Result<String, String> {
    let mut out = String::with_capacity(line.len());
    let mut i = 0;
    while i < line.len() {
        if line[i] != b'\\' {
            out.push(line[i] as char);
            i += 1;
            continue;
        }
        let run_start = i;
        while i < line.len() && line[i] == b'\\' {
            i += 1;
        }
        let run = i - run_start;
        let digits = match line.get(i) {
            Some(b'u') if run % 2 == 1 => 4,
            Some(b'U') if run % 2 == 1 => 8,
            _ => 0,
        };
        if digits == 0 {
            out.extend(std::iter::repeat_n('\\', run));
            continue;
        }
        out.extend(std::iter::repeat_n('\\', run - 1));
        let code = line
            .get(i + 1..i + 1 + digits)
            .and_then(|h| std::str::from_utf8(h).ok())
            .filter(|h| h.bytes().all(|c| c.is_ascii_hexdigit()))
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or("truncated \\u escape in UNICODE")?;
        let ch = char::from_u32(code)
            .ok_or_else(|| format!("\\u escape U+{code:X} is not a Unicode scalar value"))?;
        out.push(ch);
        i += 1 + digits;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ints() {
        assert_eq!(parse_int(b"42"), Ok(42));
        assert_eq!(parse_int(b"-9223372036854775808"), Ok(i64::MIN));
        assert_eq!(parse_int(b"0x1f"), Ok(31));
        assert!(parse_int(b"9223372036854775808").is_err());
        assert!(parse_int(b"--1").is_err());
        assert!(parse_int(b"").is_err());
        assert!(parse_int(b"1 2").is_err());
    }

    #[test]
    fn floats() {
        assert_eq!(parse_float(b"1e+300"), Ok(1e300));
        assert_eq!(parse_float(b"-inf"), Ok(f64::NEG_INFINITY));
        assert!(parse_float(b"nan").unwrap().is_nan());
        assert!(parse_float(b"x").is_err());
    }

    #[test]
    fn python2_string_escapes() {
        assert_eq!(
            escape_decode(br"a\nb\x41\101\\\'\q").unwrap(),
            b"a\nbAA\\'\\q".to_vec()
        );
        assert!(escape_decode(br"\x4").is_err());
        assert!(escape_decode(b"abc\\").is_err());
    }

    #[test]
    fn raw_unicode_escape_follows_python() {
        // Python: raw_unicode_escape_decode(b"\\\\u0041") == "\\\\u0041" (even run literal),
        // and b"\\\\\\u0041" == "\\\\A" (odd run: the last backslash escapes).
        assert_eq!(raw_unicode_escape(br"\\u0041").unwrap(), r"\\u0041");
        assert_eq!(raw_unicode_escape(br"\\\u0041").unwrap(), r"\\A");
        assert_eq!(raw_unicode_escape(b"h\xe9\\u2713").unwrap(), "hé✓");
        assert_eq!(raw_unicode_escape(br"\U0001F600").unwrap(), "😀");
        assert!(raw_unicode_escape(br"\ud800").is_err());
        assert!(raw_unicode_escape(br"\u12").is_err());
    }

    #[test]
    fn latin1_roundtrip() {
        let s = latin1_to_string(&[0, 0x41, 0xe9, 0xff]);
        assert_eq!(s, "\u{0}Aé\u{ff}");
        assert_eq!(string_to_latin1(&s).unwrap(), vec![0, 0x41, 0xe9, 0xff]);
        assert!(string_to_latin1("✓").is_err());
    }
}
