//! JSON text without serde: a parser into [`Node`] trees and a writer of
//! JSON values.
//!
//! The wasm module reads definitions and schemas and writes parameters
//! through here, so serde_json's deserializer and serializer stay out of it.
//! Both sides follow serde_json exactly (accepted text, error wording and
//! positions, number parsing and formatting, string escapes), so the two
//! runtimes agree; the tests check them against serde_json.

use serde_json::{Map, Number, Value};

use crate::query::json::{Error, FormatError, R};

/// A parsed JSON document. Unlike `serde_json::Value` it keeps keys in
/// document order and keeps repeated keys, because the formats depend on
/// both: a repeated struct field is an error, and a query's body is its
/// first body key.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Node {
    Null,
    Bool(bool),
    // A number as serde_json's `Number` keeps it (a non-negative integer is
    // always `PosInt`, a float always finite), but unwrapped: on wasm32 its
    // own tag made every node 24 bytes instead of 16.
    PosInt(u64),
    NegInt(i64),
    Float(f64),
    String(String),
    Array(Vec<Node>),
    Object(Vec<(String, Node)>),
}

impl Node {
    /// A JSON literal. Repeated keys keep the last value, as serde_json does.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::PosInt(u) => Value::Number(u.into()),
            Node::NegInt(i) => Value::Number(i.into()),
            Node::Float(f) => Number::from_f64(f).map_or(Value::Null, Value::Number),
            Node::String(s) => Value::String(s),
            Node::Array(items) => Value::Array(items.into_iter().map(Node::into_value).collect()),
            Node::Object(pairs) => {
                // Inserting one by one: collecting sorts first, which costs a
                // sort instance for nothing.
                let mut map = Map::new();
                for (k, v) in pairs {
                    map.insert(k, v.into_value());
                }
                Value::Object(map)
            }
        }
    }

    pub(crate) fn from_value(value: &Value) -> Node {
        match value {
            Value::Null => Node::Null,
            Value::Bool(b) => Node::Bool(*b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Node::PosInt(u),
                (None, Some(i)) => Node::NegInt(i),
                (None, None) => Node::Float(n.as_f64().unwrap_or_default()),
            },
            Value::String(s) => Node::String(s.clone()),
            Value::Array(items) => Node::Array(items.iter().map(Node::from_value).collect()),
            Value::Object(map) => Node::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_value(v)))
                    .collect(),
            ),
        }
    }
}

/// Parses one JSON document and converts it. As with `serde_json::from_str`,
/// a conversion error wins over trailing characters after the document.
pub(crate) fn read<T>(text: &str, convert: fn(Node) -> R<T>) -> Result<T, FormatError> {
    let mut p = Parser::new(text);
    let out = p.value().and_then(convert).map_err(|e| *e)?;
    p.end().map_err(|e| *e)?;
    Ok(out)
}

/// Parses a JSON array, converting each element as soon as it is parsed, the
/// way serde_json reads a `Vec<T>`: a conversion error is reported at the
/// position the parser had reached, after the element and its separator.
pub(crate) fn read_list<T>(text: &str, convert: fn(Node) -> R<T>) -> Result<Vec<T>, FormatError> {
    let mut p = Parser::new(text);
    let mut out = Vec::new();
    let result = p.list(&mut |node| convert(node).map(|v| out.push(v)));
    result.and_then(|()| p.end()).map_err(|e| *e)?;
    Ok(out)
}

/// A JSON document as a `serde_json::Value`.
pub(crate) fn parse_value(text: &str) -> Result<Value, FormatError> {
    read(text, |n| Ok(n.into_value()))
}

// serde_json's wording of syntax errors.
const EOF_LIST: &str = "EOF while parsing a list";
const EOF_OBJECT: &str = "EOF while parsing an object";
const EOF_STRING: &str = "EOF while parsing a string";
const EOF_VALUE: &str = "EOF while parsing a value";
const EXPECTED_COLON: &str = "expected `:`";
const EXPECTED_LIST_END: &str = "expected `,` or `]`";
const EXPECTED_OBJECT_END: &str = "expected `,` or `}`";
const EXPECTED_IDENT: &str = "expected ident";
const EXPECTED_VALUE: &str = "expected value";
const INVALID_ESCAPE: &str = "invalid escape";
const INVALID_NUMBER: &str = "invalid number";
const OUT_OF_RANGE: &str = "number out of range";
const CONTROL_CHARACTER: &str = "control character (\\u0000-\\u001F) found while parsing a string";
const KEY_NOT_STRING: &str = "key must be a string";
const LONE_SURROGATE: &str = "lone leading surrogate in hex escape";
const TRAILING_COMMA: &str = "trailing comma";
const TRAILING_CHARACTERS: &str = "trailing characters";
const END_OF_HEX_ESCAPE: &str = "unexpected end of hex escape";
const TOO_DEEP: &str = "recursion limit exceeded";

struct Parser<'a> {
    text: &'a str,
    at: usize,
    /// Nesting levels left, as serde_json counts them.
    depth: u8,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Parser<'a> {
        Parser {
            text,
            at: 0,
            depth: 128,
        }
    }

    /// `message` at line and column of byte `index`, counted as serde_json
    /// does: the column is the number of bytes before `index` on its line.
    #[cold]
    #[inline(never)]
    fn error_at(&self, message: String, index: usize) -> Error {
        let before = self.text.as_bytes().get(..index).unwrap_or_default();
        let line_start = before
            .iter()
            .rposition(|b| *b == b'\n')
            .map_or(0, |i| i + 1);
        let line = 1 + before[..line_start].iter().filter(|b| **b == b'\n').count();
        Box::new(FormatError {
            message,
            path: format!("line {line} column {}", index - line_start),
        })
    }

    /// An error about the bytes consumed so far.
    fn error(&self, message: &str) -> Error {
        self.error_at(message.into(), self.at)
    }

    /// An error about the next byte.
    fn peek_error(&self, message: &str) -> Error {
        self.error_at(message.into(), (self.at + 1).min(self.text.len()))
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let b = self.peek();
        self.at += usize::from(b.is_some());
        b
    }

    fn digit(&self) -> Option<u8> {
        self.peek().filter(u8::is_ascii_digit).map(|b| b - b'0')
    }

    /// Skips whitespace and returns the next byte without consuming it.
    fn whitespace(&mut self) -> Option<u8> {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
        self.peek()
    }

    fn end(&mut self) -> R<()> {
        match self.whitespace() {
            Some(_) => Err(self.peek_error(TRAILING_CHARACTERS)),
            None => Ok(()),
        }
    }

    fn value(&mut self) -> R<Node> {
        let Some(b) = self.whitespace() else {
            return Err(self.peek_error(EOF_VALUE));
        };
        match b {
            b'n' => self.ident("null").map(|_| Node::Null),
            b't' => self.ident("true").map(|_| Node::Bool(true)),
            b'f' => self.ident("false").map(|_| Node::Bool(false)),
            b'-' => {
                self.at += 1;
                self.number(false)
            }
            b'0'..=b'9' => self.number(true),
            b'"' => {
                self.at += 1;
                self.string().map(Node::String)
            }
            b'[' => {
                let mut items = Vec::new();
                self.list(&mut |n| {
                    items.push(n);
                    Ok(())
                })?;
                Ok(Node::Array(items))
            }
            b'{' => self.object().map(Node::Object),
            _ => Err(self.peek_error(EXPECTED_VALUE)),
        }
    }

    fn ident(&mut self, ident: &str) -> R<()> {
        self.at += 1;
        for expected in &ident.as_bytes()[1..] {
            match self.next() {
                None => return Err(self.error(EOF_VALUE)),
                Some(b) if b != *expected => return Err(self.error(EXPECTED_IDENT)),
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn enter(&mut self) -> R<()> {
        self.depth -= 1;
        if self.depth == 0 {
            return Err(self.peek_error(TOO_DEEP));
        }
        self.at += 1;
        Ok(())
    }

    /// An array, each element handed to `element` as soon as it is parsed.
    /// An error from `element` gets the position the parser reaches after
    /// trying to close the array, as serde_json places such errors.
    fn list(&mut self, element: &mut dyn FnMut(Node) -> R<()>) -> R<()> {
        match self.whitespace() {
            None => return Err(self.peek_error(EOF_VALUE)),
            Some(b'[') => {}
            // Like serde_json's `invalid type` for a sequence: a scalar is
            // read first, so its own syntax errors come first.
            Some(b) => {
                let found = if b == b'{' {
                    Node::Object(Vec::new())
                } else {
                    self.value()?
                };
                let e = found.invalid("a sequence");
                return Err(self.error_at(e.to_string(), self.at));
            }
        }
        self.enter()?;
        let mut first = true;
        loop {
            let Some(b) = self.whitespace() else {
                return Err(self.peek_error(EOF_LIST));
            };
            match b {
                b']' => break,
                _ if first => first = false,
                b',' => {
                    self.at += 1;
                    match self.whitespace() {
                        Some(b']') => return Err(self.peek_error(TRAILING_COMMA)),
                        Some(_) => {}
                        None => return Err(self.peek_error(EOF_VALUE)),
                    }
                }
                _ => return Err(self.peek_error(EXPECTED_LIST_END)),
            }
            let node = self.value()?;
            if let Err(e) = element(node) {
                // serde_json still tries to close the array, then places the error.
                match self.whitespace() {
                    Some(b']') => self.at += 1,
                    Some(b',') => {
                        self.at += 1;
                        self.whitespace();
                    }
                    _ => {}
                }
                return Err(self.error_at(e.to_string(), self.at));
            }
        }
        self.at += 1;
        self.depth += 1;
        Ok(())
    }

    fn object(&mut self) -> R<Vec<(String, Node)>> {
        self.enter()?;
        let mut pairs = Vec::new();
        loop {
            let Some(b) = self.whitespace() else {
                return Err(self.peek_error(EOF_OBJECT));
            };
            match b {
                b'}' => break,
                b'"' if pairs.is_empty() => {}
                _ if pairs.is_empty() => return Err(self.peek_error(KEY_NOT_STRING)),
                b',' => {
                    self.at += 1;
                    match self.whitespace() {
                        Some(b'"') => {}
                        Some(b'}') => return Err(self.peek_error(TRAILING_COMMA)),
                        Some(_) => return Err(self.peek_error(KEY_NOT_STRING)),
                        None => return Err(self.peek_error(EOF_VALUE)),
                    }
                }
                _ => return Err(self.peek_error(EXPECTED_OBJECT_END)),
            }
            self.at += 1;
            let key = self.string()?;
            match self.whitespace() {
                Some(b':') => self.at += 1,
                Some(_) => return Err(self.peek_error(EXPECTED_COLON)),
                None => return Err(self.peek_error(EOF_OBJECT)),
            }
            pairs.push((key, self.value()?));
        }
        self.at += 1;
        self.depth += 1;
        Ok(pairs)
    }

    /// The rest of a string whose opening quote is consumed.
    fn string(&mut self) -> R<String> {
        let mut out = String::new();
        let mut start = self.at;
        loop {
            let Some(b) = self.peek() else {
                return Err(self.error(EOF_STRING));
            };
            if b != b'"' && b != b'\\' && b >= 0x20 {
                self.at += 1;
                continue;
            }
            // The stops are ASCII, so these are always char boundaries.
            out.push_str(self.text.get(start..self.at).unwrap_or_default());
            self.at += 1;
            match b {
                b'"' => return Ok(out),
                b'\\' => self.escape(&mut out)?,
                _ => return Err(self.error(CONTROL_CHARACTER)),
            }
            start = self.at;
        }
    }

    fn escape(&mut self, out: &mut String) -> R<()> {
        let c = match self.next() {
            None => return Err(self.error(EOF_STRING)),
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\x08',
            Some(b'f') => '\x0c',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => return self.unicode_escape(out),
            Some(_) => return Err(self.error(INVALID_ESCAPE)),
        };
        out.push(c);
        Ok(())
    }

    fn unicode_escape(&mut self, out: &mut String) -> R<()> {
        let n = self.hex4()?;
        let code = match n {
            0xDC00..=0xDFFF => return Err(self.error(LONE_SURROGATE)),
            0xD800..=0xDBFF => {
                // A leading surrogate must be followed by `\u` and a trailing one.
                for expected in [b'\\', b'u'] {
                    match self.next() {
                        None => return Err(self.error(EOF_STRING)),
                        Some(b) if b != expected => return Err(self.error(END_OF_HEX_ESCAPE)),
                        Some(_) => {}
                    }
                }
                let n2 = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&n2) {
                    return Err(self.error(LONE_SURROGATE));
                }
                (((n - 0xD800) << 10) | (n2 - 0xDC00)) + 0x1_0000
            }
            _ => n,
        };
        // Never `None`: surrogates are handled above.
        if let Some(c) = char::from_u32(code) {
            out.push(c);
        }
        Ok(())
    }

    fn hex4(&mut self) -> R<u32> {
        let Some(digits) = self.text.as_bytes().get(self.at..self.at + 4) else {
            self.at = self.text.len();
            return Err(self.error(EOF_STRING));
        };
        self.at += 4;
        let mut n = 0;
        for d in digits {
            match (*d as char).to_digit(16) {
                Some(v) => n = n * 16 + v,
                None => return Err(self.error(INVALID_ESCAPE)),
            }
        }
        Ok(n)
    }

    /// A number after its sign, parsed the way serde_json does by default:
    /// integers exact as u64/i64, everything else through a u64 significand
    /// and a power of ten, so floats come out bit for bit the same.
    fn number(&mut self, positive: bool) -> R<Node> {
        let mut significand = match self.next() {
            None => return Err(self.error(EOF_VALUE)),
            Some(b'0') if self.digit().is_some() => return Err(self.peek_error(INVALID_NUMBER)),
            Some(b @ b'0'..=b'9') => u64::from(b - b'0'),
            Some(_) => return Err(self.error(INVALID_NUMBER)),
        };
        let mut exponent: i32 = 0;
        while let Some(d) = self.digit() {
            self.at += 1;
            match significand
                .checked_mul(10)
                .and_then(|s| s.checked_add(u64::from(d)))
            {
                // Digits past u64 only scale the value.
                Some(s) if exponent == 0 => significand = s,
                _ => exponent += 1,
            }
        }
        let mut float = exponent != 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            float = true;
            // Fraction digits join the significand until it would overflow,
            // even after integer digits were dropped; the rest are skipped.
            let mut fraction_digits = false;
            let mut full = false;
            while let Some(d) = self.digit() {
                self.at += 1;
                fraction_digits = true;
                match significand
                    .checked_mul(10)
                    .and_then(|s| s.checked_add(u64::from(d)))
                {
                    Some(s) if !full => {
                        significand = s;
                        exponent -= 1;
                    }
                    _ => full = true,
                }
            }
            if !fraction_digits {
                return Err(match self.peek() {
                    Some(_) => self.peek_error(INVALID_NUMBER),
                    None => self.peek_error(EOF_VALUE),
                });
            }
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            float = true;
            let sign = self.peek();
            if let Some(b'+' | b'-') = sign {
                self.at += 1;
            }
            let positive_exp = sign != Some(b'-');
            let mut exp: i32 = match self.next() {
                None => return Err(self.error(EOF_VALUE)),
                Some(b @ b'0'..=b'9') => i32::from(b - b'0'),
                Some(_) => return Err(self.error(INVALID_NUMBER)),
            };
            while let Some(d) = self.digit() {
                self.at += 1;
                match exp
                    .checked_mul(10)
                    .and_then(|e| e.checked_add(i32::from(d)))
                {
                    Some(e) => exp = e,
                    None => {
                        // Too large an exponent: zero, or out of range.
                        if significand != 0 && positive_exp {
                            return Err(self.error(OUT_OF_RANGE));
                        }
                        while self.digit().is_some() {
                            self.at += 1;
                        }
                        return float_node(if positive { 0.0 } else { -0.0 });
                    }
                }
            }
            exponent = if positive_exp {
                exponent.saturating_add(exp)
            } else {
                exponent.saturating_sub(exp)
            };
        }
        if !float {
            return Ok(if positive {
                Node::PosInt(significand)
            } else {
                match (significand as i64).wrapping_neg() {
                    // -0 and anything below i64::MIN are floats.
                    neg if neg >= 0 => return float_node(-(significand as f64)),
                    neg => Node::NegInt(neg),
                }
            });
        }
        let f = self.scale(significand as f64, exponent)?;
        float_node(if positive { f } else { -f })
    }

    /// `f * 10^exponent` by serde_json's steps.
    fn scale(&self, mut f: f64, mut exponent: i32) -> R<f64> {
        loop {
            match POW10.get(exponent.unsigned_abs() as usize) {
                Some(pow) if exponent >= 0 => {
                    f *= pow;
                    if f.is_infinite() {
                        return Err(self.error(OUT_OF_RANGE));
                    }
                    return Ok(f);
                }
                Some(pow) => return Ok(f / pow),
                None if f == 0.0 => return Ok(f),
                None if exponent >= 0 => return Err(self.error(OUT_OF_RANGE)),
                None => {
                    f /= 1e308;
                    exponent += 308;
                }
            }
        }
    }
}

fn float_node(f: f64) -> R<Node> {
    // Always finite here: `scale` refuses infinities.
    if f.is_finite() {
        Ok(Node::Float(f))
    } else {
        Err(FormatError::new(OUT_OF_RANGE))
    }
}

/// Powers of ten as serde_json scales by them; each literal is the nearest f64.
static POW10: [f64; 309] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32,
    1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48,
    1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60, 1e61, 1e62, 1e63, 1e64,
    1e65, 1e66, 1e67, 1e68, 1e69, 1e70, 1e71, 1e72, 1e73, 1e74, 1e75, 1e76, 1e77, 1e78, 1e79, 1e80,
    1e81, 1e82, 1e83, 1e84, 1e85, 1e86, 1e87, 1e88, 1e89, 1e90, 1e91, 1e92, 1e93, 1e94, 1e95, 1e96,
    1e97, 1e98, 1e99, 1e100, 1e101, 1e102, 1e103, 1e104, 1e105, 1e106, 1e107, 1e108, 1e109, 1e110,
    1e111, 1e112, 1e113, 1e114, 1e115, 1e116, 1e117, 1e118, 1e119, 1e120, 1e121, 1e122, 1e123,
    1e124, 1e125, 1e126, 1e127, 1e128, 1e129, 1e130, 1e131, 1e132, 1e133, 1e134, 1e135, 1e136,
    1e137, 1e138, 1e139, 1e140, 1e141, 1e142, 1e143, 1e144, 1e145, 1e146, 1e147, 1e148, 1e149,
    1e150, 1e151, 1e152, 1e153, 1e154, 1e155, 1e156, 1e157, 1e158, 1e159, 1e160, 1e161, 1e162,
    1e163, 1e164, 1e165, 1e166, 1e167, 1e168, 1e169, 1e170, 1e171, 1e172, 1e173, 1e174, 1e175,
    1e176, 1e177, 1e178, 1e179, 1e180, 1e181, 1e182, 1e183, 1e184, 1e185, 1e186, 1e187, 1e188,
    1e189, 1e190, 1e191, 1e192, 1e193, 1e194, 1e195, 1e196, 1e197, 1e198, 1e199, 1e200, 1e201,
    1e202, 1e203, 1e204, 1e205, 1e206, 1e207, 1e208, 1e209, 1e210, 1e211, 1e212, 1e213, 1e214,
    1e215, 1e216, 1e217, 1e218, 1e219, 1e220, 1e221, 1e222, 1e223, 1e224, 1e225, 1e226, 1e227,
    1e228, 1e229, 1e230, 1e231, 1e232, 1e233, 1e234, 1e235, 1e236, 1e237, 1e238, 1e239, 1e240,
    1e241, 1e242, 1e243, 1e244, 1e245, 1e246, 1e247, 1e248, 1e249, 1e250, 1e251, 1e252, 1e253,
    1e254, 1e255, 1e256, 1e257, 1e258, 1e259, 1e260, 1e261, 1e262, 1e263, 1e264, 1e265, 1e266,
    1e267, 1e268, 1e269, 1e270, 1e271, 1e272, 1e273, 1e274, 1e275, 1e276, 1e277, 1e278, 1e279,
    1e280, 1e281, 1e282, 1e283, 1e284, 1e285, 1e286, 1e287, 1e288, 1e289, 1e290, 1e291, 1e292,
    1e293, 1e294, 1e295, 1e296, 1e297, 1e298, 1e299, 1e300, 1e301, 1e302, 1e303, 1e304, 1e305,
    1e306, 1e307, 1e308,
];

/// Appends `value` as compact JSON text, exactly as serde_json writes it.
pub(crate) fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_str(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_str(out, k);
                out.push(':');
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// `value` as compact JSON text, like its `to_string()`.
pub(crate) fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

pub(crate) fn write_number(out: &mut String, n: &Number) {
    use std::fmt::Write as _;
    // `Number`'s Display is serde_json's own number formatting.
    let _ = write!(out, "{n}");
}

/// A JSON string literal, escaped as serde_json escapes: quote, backslash
/// and control characters only.
pub(crate) fn write_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let short = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'\x08' => 'b',
            b'\x0c' => 'f',
            b'\n' => 'n',
            b'\r' => 'r',
            b'\t' => 't',
            0..=0x1f => 'u',
            _ => continue,
        };
        out.push_str(s.get(start..i).unwrap_or_default());
        out.push('\\');
        out.push(short);
        if short == 'u' {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Query;

    /// What serde_json makes of `text`: the value, or its error's text.
    fn serde(text: &str) -> Result<Value, String> {
        serde_json::from_str(text).map_err(|e| e.to_string())
    }

    fn ours(text: &str) -> Result<Value, String> {
        parse_value(text).map_err(|e| e.to_string())
    }

    /// Equal values, with numbers of the same kind and, for floats, the same bits.
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => {
                x == y
                    && x.is_f64() == y.is_f64()
                    && x.as_f64().map(f64::to_bits) == y.as_f64().map(f64::to_bits)
            }
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|((k, a), (l, b))| k == l && same(a, b))
            }
            _ => a == b,
        }
    }

    fn check(text: &str) {
        match (serde(text), ours(text)) {
            (Ok(a), Ok(b)) => assert!(same(&a, &b), "{text:?}: {a} vs {b}"),
            (a, b) => assert_eq!(a, b, "{text:?}"),
        }
    }

    const DOCUMENTS: &[&str] = &[
        r#"{"version": 1, "select": {"from": "t", "columns": ["a", {"expr": {"value": -1.5e3}, "as": "x"}],
            "where": {"and": [{"eq": {"column": "a", "value": "é\n\"\\\/\b\f\r\t\u00e9\ud83d\ude00"}}, {"is_null": "b"}]},
            "limit": 10}, "k": [true, false, null, 0, -0, 1e400000000000, 0.5e-400]}"#,
        "[1, [2, [3, {}]], {\"a\": {\"b\": []}}, \"\", -9223372036854775808, 18446744073709551615]",
        "\n\t {\r\n \"a\" :\n[ 1 ,2 ]\n,\"b\":{\"c\" : null } }  \n",
    ];

    #[test]
    fn documents_and_every_prefix_and_mutation_read_as_serde_json_reads_them() {
        for doc in DOCUMENTS {
            check(doc);
            for (i, _) in doc.char_indices() {
                check(&doc[..i]);
                let (head, tail) = doc.split_at(i);
                let rest = &tail[tail.chars().next().map_or(0, char::len_utf8)..];
                check(&format!("{head}{rest}"));
                for c in [
                    "x", ",", "]", "}", "\"", "\\", "0", "-", ".", "e", " ", "\u{1}", "[", "{", ":",
                ] {
                    check(&format!("{head}{c}{tail}"));
                    check(&format!("{head}{c}{rest}"));
                }
            }
        }
    }

    #[test]
    fn tricky_text_reads_as_serde_json_reads_it() {
        for text in [
            "",
            " ",
            "n",
            "nul",
            "nulx",
            "tru",
            "fals",
            "truex",
            "[",
            "[1",
            "[1,",
            "[1,]",
            "[,1]",
            "[1 2]",
            "{",
            "{\"a\"",
            "{\"a\":",
            "{\"a\":1,}",
            "{1:2}",
            "{\"a\" 1}",
            "{\"a\":1 \"b\":2}",
            "\"abc",
            "\"\\",
            "\"\\u12",
            "\"\\u12g4\"",
            "\"\\x\"",
            "\"\\ud800\"",
            "\"\\ud800\\n\"",
            "\"\\ud800\\u0041\"",
            "\"\\udc00\"",
            "\"\\ud800x",
            "\"\t\"",
            "\"\u{7f}\"",
            "1 2",
            "{} x",
            "-",
            "-a",
            "01",
            "-01",
            "1.",
            "1.e5",
            "1e",
            "1e+",
            "1e-x",
            ".5",
            "+1",
            "1.5x",
            "0x10",
            "Infinity",
            "NaN",
            "\u{feff}1",
        ] {
            check(text);
        }
        check(&"[".repeat(127));
        check(&format!("{}{}", "[".repeat(127), "]".repeat(127)));
        check(&"[".repeat(128));
        check(&format!("{}1{}", "{\"a\":".repeat(130), "}".repeat(130)));
    }

    #[test]
    fn numbers_come_out_bit_for_bit_as_serde_json_parses_them() {
        let mut numbers: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1e308",
            "1.7976931348623157e308",
            "1.7976931348623159e308",
            "1e309",
            "-1e309",
            "4.9e-324",
            "2.4e-324",
            "1e-400",
            "0e999999999999",
            "1e-99999999999",
            "1e99999999999",
            "0.1",
            "0.3",
            "2.2250738585072014e-308",
            "9007199254740993",
            "18446744073709551615",
            "18446744073709551616",
            "18446744073709551616.5",
            "-9223372036854775808",
            "-9223372036854775809",
            "123456789012345678901234567890",
            "1.00000000000000000000000000000001",
            "0.000000000000000000000000000000000000001234",
            "123456789012345678901.5e-3",
            "1E5",
            "1e+5",
            "1e-5",
            "2147483648e-2147483648",
            "1e2147483647",
            "1e-2147483648",
            "0.1e-2147483647",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let digits = x.to_string();
            let cut = (x % digits.len() as u64) as usize;
            let exp = (x >> 40) as i64 % 700 - 350;
            numbers.push(format!(
                "{}.{}e{exp}",
                &digits[..cut.max(1)],
                &digits[cut..]
            ));
            numbers.push(format!("-{}", &digits[..cut.max(1)]));
            numbers.push(f64::from_bits(x).to_string());
            numbers.push(format!("{:e}", f64::from_bits(x >> 2)));
        }
        for n in &numbers {
            check(n);
            check(&format!("[{n}]"));
        }
    }

    #[test]
    fn definitions_and_lists_of_them_fail_as_with_serde_json() {
        let definitions = [
            r#"{"version":1,"select":{"from":"t","columns":"*"}}"#,
            r#"{"version":1,"select":{"from":"t"}}"#,
            r#"{"version":1,"select":{"from":"t","columns":"*"}} x"#,
            r#"{"version":1} x"#,
            r#"{"version":1,"select":{"from":"t","columns":"*","limit":1e400}}"#,
            "[]",
            "7",
        ];
        for text in definitions {
            assert_eq!(
                Query::from_json(text).map_err(|e| e.to_string()),
                serde_json::from_str::<Query>(text).map_err(|e| e.to_string()),
                "{text}"
            );
        }
        let ok = definitions[0];
        for text in [
            format!("[{ok}, {ok}]"),
            format!("[{ok},\n  {}, {ok}]", definitions[1]),
            format!("[{ok}, {} ]", definitions[1]),
            format!("[{}]", definitions[1]),
            format!("[{} , ]", definitions[1]),
            format!("[{}  x", definitions[1]),
            format!("[{ok}] x"),
            format!("[{ok},]"),
            "[]".into(),
            " {\"a\": 1}".into(),
            "\n\"abc\"".into(),
            "1.5".into(),
            "tru".into(),
            "[".into(),
        ] {
            assert_eq!(
                Query::list_from_json(&text).map_err(|e| e.to_string()),
                serde_json::from_str::<Vec<Query>>(&text).map_err(|e| e.to_string()),
                "{text}"
            );
        }
    }

    #[test]
    fn written_text_is_serde_jsons() {
        let mut all_bytes = String::new();
        for c in (0u8..0x80)
            .map(char::from)
            .chain(['é', '€', '😀', '\u{2028}'])
        {
            all_bytes.push(c);
        }
        let values = [
            Value::String(all_bytes),
            serde_json::json!({"b": [1, -2, 1.5, -0.0, 1e21, 1e-7, 123456789.125, f64::MAX,
                u64::MAX, i64::MIN, 0.1f32 as f64], "a": {"": null, "x\"y": [true, false, []]}}),
        ];
        for v in &values {
            assert_eq!(to_string(v), v.to_string());
        }
    }
}
