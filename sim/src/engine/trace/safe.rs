//! Text taken from a trace file (or any input), made safe to print.
//!
//! A trace is data from a file: its task and location names, its subject's test name and its
//! failure message may hold newlines, escape sequences that move the cursor or clear the
//! screen, bidirectional overrides that make text read differently from what it is, or a
//! hundred thousand characters. Everything printed from one goes through this module first:
//! control characters (C0 and C1), line and paragraph separators, bidirectional and invisible
//! format characters are written as escapes (`\n`, `\u{1b}`), and a text is cut at a bound with
//! [`MARKER`], reading no more of it than it prints (so the time to print a name is bounded
//! too, however long the name).

use std::fmt::Write as _;

/// Ends a cut text.
pub const MARKER: char = '…';

/// The most characters a one-line message ([`line()`]) prints.
pub const MAX_LINE_CHARS: usize = 1000;

/// Whether `c` must not reach a terminal as itself.
pub fn dangerous(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200b}'..='\u{200f}'
                | '\u{2028}'..='\u{202e}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{feff}'
                | '\u{fff9}'..='\u{fffb}'
        )
}

/// Append `c` to `out`, escaped if it is [`dangerous`]; returns the characters appended.
fn push(out: &mut String, c: char) -> usize {
    if !dangerous(c) {
        out.push(c);
        return 1;
    }
    let before = out.len();
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        c => {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        }
    }
    // Escapes are ASCII: bytes are characters.
    out.len() - before
}

/// The characters `c` takes once escaped.
fn width(c: char) -> usize {
    if !dangerous(c) {
        return 1;
    }
    match c {
        '\n' | '\r' | '\t' => 2,
        c => format!("\\u{{{:x}}}", c as u32).len(),
    }
}

/// `s` escaped and cut to at most `max` characters (the last one then [`MARKER`]). Reads
/// at most `max + 1` characters of `s`.
pub fn cut(s: &str, max: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let w = width(c);
        // The last character may be the text's own, if nothing follows it.
        let room = if chars.peek().is_none() {
            max
        } else {
            max.saturating_sub(1)
        };
        if used + w > room {
            if max > 0 {
                out.push(MARKER);
            }
            return out;
        }
        used += push(&mut out, c);
    }
    out
}

/// `s` as one printable line: escaped, and cut at [`MAX_LINE_CHARS`].
pub fn line(s: &str) -> String {
    cut(s, MAX_LINE_CHARS)
}

/// `s` escaped, with its newlines kept: at most `max_lines` lines (then one line saying how
/// many more there were, counted up to a bound), each cut at `max_chars`.
pub fn block(s: &str, max_lines: usize, max_chars: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = s.lines();
    for l in lines.by_ref().take(max_lines) {
        out.push(cut(l, max_chars));
    }
    // Count what is left, without reading more than a bounded amount of it.
    const COUNT_LIMIT: usize = 1_000_000;
    let more = lines.by_ref().take(COUNT_LIMIT).count();
    if more > 0 {
        let plus = if lines.next().is_some() { "+" } else { "" };
        out.push(format!("{MARKER} ({more}{plus} more lines)"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_cuts() {
        assert_eq!(cut("plain", 10), "plain");
        assert_eq!(cut("exactly10!", 10), "exactly10!");
        assert_eq!(cut("exactly11!!", 10), "exactly11…");
        assert_eq!(cut("a\nb", 10), "a\\nb");
        assert_eq!(cut("\u{1b}[2J", 20), "\\u{1b}[2J");
        assert_eq!(cut("rtl\u{202e}txt", 20), "rtl\\u{202e}txt");
        // An escape is never split.
        assert_eq!(cut("ab\u{1b}cd", 5), "ab…");
        assert_eq!(cut("", 3), "");
        assert_eq!(cut("abc", 0), "");
        let long = "x".repeat(100_000);
        assert_eq!(cut(&long, 40).chars().count(), 40);
        assert!(line(&long).ends_with(MARKER));
    }

    #[test]
    fn blocks_keep_lines_and_bound_them() {
        assert_eq!(block("a\nb\u{7}", 5, 10), vec!["a", "b\\u{7}"]);
        let many = "x\n".repeat(10);
        let b = block(&many, 3, 10);
        assert_eq!(b.len(), 4);
        assert!(b[3].contains("7 more lines"), "{b:?}");
        assert_eq!(block("a\r\nb\n", 5, 10), vec!["a", "b"]);
    }
}
