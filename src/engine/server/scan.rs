//! A JSON reader for the one request on the ingest path, WriteRecords: it walks the body once,
//! handing out strings borrowed from it (copied only where they hold escapes) and skipping
//! members it does not know, with no tree and no per-field dispatch machinery in between.
//! It accepts the JSON of RFC 8259 as serde_json reads it (a property test in `write_records`
//! checks the two against each other), nests at most [`MAX_DEPTH`] levels, and its errors say
//! where the body went wrong (`line L column C`). Its callers refuse a member given twice, as
//! serde's derived readers did.

use std::borrow::Cow;

/// How deeply values may nest (as serde_json allows), so that no body can exhaust the stack.
pub const MAX_DEPTH: usize = 128;

/// Why a body is not the JSON expected, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanError {
    /// What is wrong.
    pub what: String,
    /// The byte offset where it was found.
    pub at: usize,
}

/// A reader over one JSON text.
pub struct Scanner<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
}

/// The result of one step of a [`Scanner`].
pub type Scanned<T> = Result<T, ScanError>;

impl<'a> Scanner<'a> {
    /// A reader at the start of `text`.
    pub fn new(text: &'a str) -> Self {
        Self { text, at: 0, depth: 0 }
    }

    /// `ScanError::what` with the line and column of its offset, as a message.
    pub fn describe(&self, e: &ScanError) -> String {
        let before = &self.text.as_bytes()[..e.at.min(self.text.len())];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|&&b| b != b'\n').count() + 1;
        format!("{} at line {line} column {column}", e.what)
    }

    /// An error at the offset reached, for what a caller finds wrong there.
    pub fn fail<T>(&self, what: impl Into<String>) -> Scanned<T> {
        Err(ScanError { what: what.into(), at: self.at })
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    fn skip_space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes().get(self.at) {
            self.at += 1;
        }
    }

    /// The next byte that is not white space, not consumed.
    fn peek(&mut self) -> Option<u8> {
        self.skip_space();
        self.bytes().get(self.at).copied()
    }

    fn expect(&mut self, byte: u8, what: &str) -> Scanned<()> {
        match self.peek() {
            Some(b) if b == byte => {
                self.at += 1;
                Ok(())
            }
            Some(_) => self.fail(format!("expected {what}")),
            None => self.fail("EOF while parsing a value"),
        }
    }

    /// Checks that nothing but white space follows the value read.
    pub fn finish(&mut self) -> Scanned<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("trailing characters"),
        }
    }

    /// `null` (consumed, `true`) or something else (left, `false`).
    pub fn null(&mut self) -> Scanned<bool> {
        if self.peek() == Some(b'n') {
            self.literal("null")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn literal(&mut self, word: &str) -> Scanned<()> {
        if self.bytes()[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(())
        } else {
            self.fail("expected value")
        }
    }

    /// What kind of value comes next, for "expected X, found Y" messages.
    fn found(&mut self) -> &'static str {
        match self.peek() {
            Some(b'"') => "a string",
            Some(b'{') => "an object",
            Some(b'[') => "an array",
            Some(b't' | b'f') => "a boolean",
            Some(b'n') => "null",
            Some(b'-' | b'0'..=b'9') => "a number",
            Some(_) => "an invalid value",
            None => "the end of the body",
        }
    }

    fn wrong_type<T>(&mut self, want: &str) -> Scanned<T> {
        let found = self.found();
        self.fail(format!("invalid type: {found}, expected {want}"))
    }

    /// An object: `member` is called with each key, positioned at its value, and must consume
    /// the value.
    pub fn object(&mut self, mut member: impl FnMut(&mut Self, Cow<'a, str>) -> Scanned<()>) -> Scanned<()> {
        self.sequence(b'{', b'}', "an object", |s| {
            if s.peek() != Some(b'"') {
                return s.fail("key must be a string");
            }
            let key = s.string()?;
            s.expect(b':', "`:`")?;
            member(s, key)
        })
    }

    /// An array: `item` is called positioned at each element and must consume it.
    pub fn array(&mut self, item: impl FnMut(&mut Self) -> Scanned<()>) -> Scanned<()> {
        self.sequence(b'[', b']', "an array", item)
    }

    /// The comma-separated items between `open` and `close`, one level deeper.
    fn sequence(
        &mut self,
        open: u8,
        close: u8,
        what: &str,
        mut item: impl FnMut(&mut Self) -> Scanned<()>,
    ) -> Scanned<()> {
        if self.peek() != Some(open) {
            return self.wrong_type(what);
        }
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail("recursion limit exceeded");
        }
        self.at += 1;
        if self.peek() != Some(close) {
            loop {
                item(self)?;
                match self.peek() {
                    Some(b',') => self.at += 1,
                    Some(b) if b == close => break,
                    Some(_) => return self.fail(format!("expected `,` or `{}`", char::from(close))),
                    None => return self.fail(format!("EOF while parsing {what}")),
                }
            }
        }
        self.at += 1;
        self.depth -= 1;
        Ok(())
    }

    /// A string, borrowed unless it holds escapes.
    pub fn string(&mut self) -> Scanned<Cow<'a, str>> {
        if self.peek() != Some(b'"') {
            return self.wrong_type("a string");
        }
        self.at += 1;
        let start = self.at;
        let bytes = self.bytes();
        let mut i = start;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'"' => {
                    self.at = i + 1;
                    // Cut at ASCII quotes, the slice is whole UTF-8.
                    return Ok(Cow::Borrowed(&self.text[start..i]));
                }
                b'\\' => {
                    self.at = i;
                    return self.escaped(start).map(Cow::Owned);
                }
                0..=0x1f => {
                    self.at = i;
                    return self.fail("control character (\\u0000-\\u001F) found while parsing a string");
                }
                _ => i += 1,
            }
        }
        self.at = i;
        self.fail("EOF while parsing a string")
    }

    /// The rest of a string that holds an escape at `self.at`, decoded.
    fn escaped(&mut self, start: usize) -> Scanned<String> {
        let mut out = String::from(&self.text[start..self.at]);
        loop {
            let bytes = self.bytes();
            let run = self.at;
            while let Some(&b) = bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(&self.text[run..self.at]);
            match bytes.get(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out);
                }
                Some(b'\\') => {
                    self.at += 1;
                    let Some(&e) = bytes.get(self.at) else { return self.fail("EOF while parsing a string") };
                    self.at += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => {
                            self.at -= 1;
                            return self.fail("invalid escape");
                        }
                    }
                }
                Some(_) => return self.fail("control character (\\u0000-\\u001F) found while parsing a string"),
                None => return self.fail("EOF while parsing a string"),
            }
        }
    }

    fn hex4(&mut self) -> Scanned<u16> {
        let Some(digits) = self.bytes().get(self.at..self.at + 4) else {
            return self.fail("EOF while parsing a string");
        };
        let mut n = 0u16;
        for &d in digits {
            let v = match d {
                b'0'..=b'9' => d - b'0',
                b'a'..=b'f' => d - b'a' + 10,
                b'A'..=b'F' => d - b'A' + 10,
                _ => return self.fail("invalid escape"),
            };
            n = n * 16 + u16::from(v);
        }
        self.at += 4;
        Ok(n)
    }

    /// The character of a `\uXXXX` escape (after the `u`), with a second escape for a
    /// surrogate pair; a lone surrogate is an error.
    fn unicode_escape(&mut self) -> Scanned<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                if !self.bytes()[self.at..].starts_with(b"\\u") {
                    return self.fail("lone leading surrogate in hex escape");
                }
                self.at += 2;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return self.fail("lone leading surrogate in hex escape");
                }
                0x10000 + ((u32::from(first) - 0xD800) << 10) + (u32::from(second) - 0xDC00)
            }
            0xDC00..=0xDFFF => return self.fail("lone trailing surrogate in hex escape"),
            _ => u32::from(first),
        };
        match char::from_u32(code) {
            Some(c) => Ok(c),
            None => self.fail("invalid unicode code point"),
        }
    }

    /// The extent of a number (RFC 8259 grammar), and whether it is an integer.
    fn number(&mut self) -> Scanned<(&'a str, bool)> {
        let bytes = self.bytes();
        let start = self.at;
        let digits = |at: &mut usize| {
            let from = *at;
            while bytes.get(*at).is_some_and(u8::is_ascii_digit) {
                *at += 1;
            }
            *at > from
        };
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => {
                self.at = i;
                return self.fail("invalid number");
            }
        }
        let mut integer = true;
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            integer = false;
            if !digits(&mut i) {
                self.at = i;
                return self.fail("invalid number");
            }
        }
        if let Some(b'e' | b'E') = bytes.get(i) {
            i += 1;
            integer = false;
            if let Some(b'+' | b'-') = bytes.get(i) {
                i += 1;
            }
            if !digits(&mut i) {
                self.at = i;
                return self.fail("invalid number");
            }
        }
        self.at = i;
        Ok((&self.text[start..i], integer))
    }

    /// An integer that fits an i64.
    pub fn integer(&mut self) -> Scanned<i64> {
        match self.peek() {
            Some(b'-' | b'0'..=b'9') => {}
            _ => return self.wrong_type("i64"),
        }
        let start = self.at;
        let (text, integer) = self.number()?;
        // serde_json reads `-0` as a float (there is no negative integer zero).
        if !integer || text == "-0" {
            self.at = start;
            return self.fail(format!("invalid type: floating point `{text}`, expected i64"));
        }
        match text.parse() {
            Ok(n) => Ok(n),
            Err(_) => {
                self.at = start;
                self.fail(format!("invalid value: integer `{text}`, expected i64"))
            }
        }
    }

    /// Any value, skipped (checked, not kept).
    pub fn skip(&mut self) -> Scanned<()> {
        match self.peek() {
            Some(b'{') => self.object(|s, _| s.skip()),
            Some(b'[') => self.array(Self::skip),
            Some(b'"') => self.string().map(drop),
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => {
                // As serde_json, a number beyond a double's range is an error even where unread.
                let start = self.at;
                let (text, _) = self.number()?;
                if text.parse::<f64>().is_ok_and(f64::is_infinite) {
                    self.at = start;
                    return self.fail("number out of range");
                }
                Ok(())
            }
            Some(_) => self.fail("expected value"),
            None => self.fail("EOF while parsing a value"),
        }
    }
}
