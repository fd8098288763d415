//! `.helmignore` rules with Helm's own semantics (not gitignore's).
//! Placeholder: being written.
