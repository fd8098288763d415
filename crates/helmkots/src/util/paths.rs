//! Path helpers, one of each: a path made absolute without touching the disk, a path
//! resolved through its nearest existing ancestor, and one path relative to another.

use camino::{Utf8Path, Utf8PathBuf};

/// `path` made absolute against the current directory, without resolving links (it need
/// not exist): fingerprints name an output tree the same way from any directory.
pub(crate) fn absolute(path: &Utf8Path) -> Utf8PathBuf {
    std::path::absolute(path)
        .ok()
        .and_then(|absolute| Utf8PathBuf::from_path_buf(absolute).ok())
        .unwrap_or_else(|| path.to_path_buf())
}

/// `path` made absolute through its nearest existing ancestor, links resolved there (the
/// rest need not exist yet), so two spellings of one place compare equal.
pub(crate) fn resolved(path: &Utf8Path) -> Utf8PathBuf {
    if let Ok(canonical) = path.canonicalize_utf8() {
        return canonical;
    }
    match (path.parent(), path.file_name()) {
        (Some(parent), Some(name)) if !parent.as_str().is_empty() => resolved(parent).join(name),
        _ => absolute(path),
    }
}

/// `path` relative to `base`, `/`-separated and climbing with `..` where needed (both
/// [`resolved`] first); `.` when they are the same place; `path` as given when they share no
/// root.
pub(crate) fn relative_path(base: &Utf8Path, path: &Utf8Path) -> String {
    let (base_abs, path_abs) = (resolved(base), resolved(path));
    let base_parts: Vec<&str> = base_abs.components().map(|c| c.as_str()).collect();
    let path_parts: Vec<&str> = path_abs.components().map(|c| c.as_str()).collect();
    let common = path_parts.iter().zip(&base_parts).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return path.as_str().to_string();
    }
    let mut parts: Vec<&str> = vec![".."; base_parts.len() - common];
    parts.extend(&path_parts[common..]);
    if parts.is_empty() {
        ".".to_string()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_and_name_the_same_place_dot() {
        let root = Utf8PathBuf::from_path_buf(std::env::temp_dir()).unwrap();
        assert_eq!(relative_path(&root, &root.join("charts/app")), "charts/app");
        assert_eq!(relative_path(&root.join("manifests"), &root.join("charts/app")), "../charts/app");
        assert_eq!(relative_path(&root, &root), ".");
    }

    #[test]
    fn absolute_keeps_a_path_that_does_not_exist() {
        let path = absolute(Utf8Path::new("no/such/dir"));
        assert!(path.is_absolute() && path.ends_with("no/such/dir"), "{path}");
    }
}
