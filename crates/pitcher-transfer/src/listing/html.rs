//! A small, forgiving HTML tokenizer: enough to read directory index pages (tags, attributes,
//! text, character references), never a full HTML parser.

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    /// A start tag, name lower-cased, attributes (name lower-cased, value unescaped) in order.
    Start {
        name: String,
        attrs: Vec<(String, String)>,
    },
    /// An end tag, name lower-cased.
    End(String),
    /// Text between tags, character references resolved.
    Text(String),
}

impl Token {
    pub(crate) fn is_start(&self, tag: &str) -> bool {
        matches!(self, Token::Start { name, .. } if name == tag)
    }

    pub(crate) fn is_end(&self, tag: &str) -> bool {
        matches!(self, Token::End(name) if name == tag)
    }

    pub(crate) fn attr(&self, attr: &str) -> Option<&str> {
        match self {
            Token::Start { attrs, .. } => attrs
                .iter()
                .find(|(n, _)| n == attr)
                .map(|(_, v)| v.as_str()),
            _ => None,
        }
    }
}

pub(crate) fn tokenize(html: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = html;
    while !rest.is_empty() {
        let Some(lt) = rest.find('<') else {
            push_text(&mut tokens, rest);
            break;
        };
        if lt > 0 {
            push_text(&mut tokens, &rest[..lt]);
            rest = &rest[lt..];
        }
        // rest starts with '<'
        if let Some(after) = rest.strip_prefix("<!--") {
            rest = match after.find("-->") {
                Some(end) => &after[end + 3..],
                None => "",
            };
        } else if rest.starts_with("<!") || rest.starts_with("<?") {
            rest = match rest.find('>') {
                Some(end) => &rest[end + 1..],
                None => "",
            };
        } else if let Some(after) = rest.strip_prefix("</") {
            let end = after.find('>').unwrap_or(after.len());
            let name: String = after[..end]
                .trim()
                .split(|c: char| c.is_whitespace())
                .next()
                .unwrap_or("")
                .to_ascii_lowercase();
            tokens.push(Token::End(name));
            rest = after.get(end + 1..).unwrap_or("");
        } else if rest[1..].starts_with(|c: char| c.is_ascii_alphabetic()) {
            let (token, after) = start_tag(&rest[1..]);
            let raw_text =
                matches!(&token, Token::Start { name, .. } if name == "script" || name == "style");
            let tag_name = match &token {
                Token::Start { name, .. } => name.clone(),
                _ => String::new(),
            };
            tokens.push(token);
            rest = after;
            if raw_text {
                // Skip script/style content up to its end tag.
                let close = format!("</{tag_name}");
                let lower = rest.to_ascii_lowercase();
                rest = match lower.find(&close) {
                    Some(pos) => &rest[pos..],
                    None => "",
                };
            }
        } else {
            // A lone '<' in text.
            push_text(&mut tokens, "<");
            rest = &rest[1..];
        }
    }
    tokens
}

fn push_text(tokens: &mut Vec<Token>, raw: &str) {
    let text = unescape(raw);
    if let Some(Token::Text(prev)) = tokens.last_mut() {
        prev.push_str(&text);
    } else {
        tokens.push(Token::Text(text));
    }
}

/// Parse a start tag; `s` starts right after '<'. Returns the token and what follows '>'.
fn start_tag(s: &str) -> (Token, &str) {
    let name_end = s
        .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .unwrap_or(s.len());
    let name = s[..name_end].to_ascii_lowercase();
    let mut rest = &s[name_end..];
    let mut attrs = Vec::new();
    loop {
        rest = rest.trim_start();
        if rest.is_empty() {
            break;
        }
        if let Some(after) = rest.strip_prefix('>') {
            rest = after;
            break;
        }
        if let Some(after) = rest.strip_prefix('/') {
            rest = after;
            continue;
        }
        let attr_end = rest
            .find(|c: char| c.is_whitespace() || c == '=' || c == '>' || c == '/')
            .unwrap_or(rest.len());
        let attr_name = rest[..attr_end].to_ascii_lowercase();
        rest = rest[attr_end..].trim_start();
        let mut value = String::new();
        if let Some(after) = rest.strip_prefix('=') {
            let after = after.trim_start();
            if let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let inner = &after[1..];
                let end = inner.find(q).unwrap_or(inner.len());
                value = unescape(&inner[..end]);
                rest = inner.get(end + 1..).unwrap_or("");
            } else {
                let end = after
                    .find(|c: char| c.is_whitespace() || c == '>')
                    .unwrap_or(after.len());
                value = unescape(&after[..end]);
                rest = &after[end..];
            }
        }
        if !attr_name.is_empty() {
            attrs.push((attr_name, value));
        }
    }
    (Token::Start { name, attrs }, rest)
}

/// Resolve character references: the named ones index pages use, and numeric ones.
pub(crate) fn unescape(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        // A reference is short: look for its ';' within a few characters only.
        let semi = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let resolved = semi.and_then(|semi| {
            let entity = &rest[1..semi];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                "nbsp" => Some('\u{a0}'),
                _ => {
                    let num = entity.strip_prefix('#')?;
                    let code = match num.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => num.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((c, semi + 1))
        });
        match resolved {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Escape text for HTML content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_attributes_text() {
        let t = tokenize(
            "<!DOCTYPE x><!-- c <a> --><A HREF='a&amp;b' data-x=1>t&lt;1&#62;&#x41;</a> tail<br/>",
        );
        assert_eq!(
            t,
            vec![
                Token::Start {
                    name: "a".into(),
                    attrs: vec![("href".into(), "a&b".into()), ("data-x".into(), "1".into())]
                },
                Token::Text("t<1>A".into()),
                Token::End("a".into()),
                Token::Text(" tail".into()),
                Token::Start {
                    name: "br".into(),
                    attrs: vec![]
                },
            ]
        );
    }

    #[test]
    fn broken_input_does_not_panic() {
        for s in [
            "<",
            "<a",
            "<a href=\"x",
            "</",
            "&",
            "&#xZZ;",
            "&#99999999;",
            "<a =x>",
            "a < b",
            "<!--",
            "<script>x<a href=y>",
            "&ééééééééééééé;",
        ] {
            let _ = tokenize(s);
        }
    }

    #[test]
    fn escape_round_trip() {
        let s = "a&b<c>\"d'e é";
        assert_eq!(unescape(&escape(s)), s);
    }
}
