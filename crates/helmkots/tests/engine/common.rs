//! What the hostile-input tests share: reading a committed corpus, and the escapes its
//! one-line inputs use. Each test crate uses only some of it.
#![allow(dead_code)]

/// Every file of `tests/corpus/<subdir>/`, sorted by name: (file name, text).
pub fn corpus(subdir: &str) -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(subdir);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, text)
        })
        .collect()
}

/// Decodes the escapes of a corpus INPUT field: `<empty>`, `\s` space, `\t`, `\n`, `\\`,
/// `\u{HEX}` a character, `\r{N}x` the character x repeated N times (for long inputs).
pub fn unescape(field: &str) -> String {
    if field == "<empty>" {
        return String::new();
    }
    let mut text = String::new();
    let mut chars = field.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            text.push(c);
            continue;
        }
        match chars.next() {
            Some('s') => text.push(' '),
            Some('t') => text.push('\t'),
            Some('n') => text.push('\n'),
            Some('\\') => text.push('\\'),
            Some('u') => {
                let code: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                text.push(char::from_u32(u32::from_str_radix(&code, 16).unwrap()).unwrap());
            }
            Some('r') => {
                let count: String = chars.by_ref().skip(1).take_while(|c| *c != '}').collect();
                let repeated = chars.next().unwrap();
                text.extend(std::iter::repeat_n(repeated, count.parse().unwrap()));
            }
            other => panic!("bad escape \\{other:?} in {field}"),
        }
    }
    text
}
