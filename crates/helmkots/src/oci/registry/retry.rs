//! The one retry policy of registry operations: how many attempts, how long between them
//! (doubling, capped, and at least what a registry's `Retry-After` asks, itself capped), and
//! which errors are worth another try, one predicate per [`Operation`].

use std::time::Duration;

use super::{Operation, RegistryError, MAX_RETRY_AFTER};

/// The longest wait between two attempts of our own choosing.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// How often and how patiently an operation is tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryPolicy {
    /// Attempts in all, the first included.
    pub(crate) attempts: u32,
    /// The first wait; it doubles after each retry, up to [`MAX_BACKOFF`].
    pub(crate) backoff: Duration,
}

/// Each kind of operation has its own idea of a transient error.
impl Operation {
    /// Whether `error` is worth another try. 5xx, 429, a dropped, refused or stalled connection
    /// and a body cut short are; wrong bytes, a missing image, refused credentials and a name
    /// that does not resolve are not. A push also retries the registry's other protocol
    /// errors: two releases pushing one image at once make docker-registry answer
    /// `DIGEST_INVALID` to one of them, and the next attempt finds the blob there.
    pub(crate) fn is_transient(self, error: &RegistryError) -> bool {
        match error {
            RegistryError::Unreachable { .. } => !error.is_unresolved_name(),
            RegistryError::SizeMismatch { .. } | RegistryError::Busy { .. } => true,
            RegistryError::Protocol { status, .. } => match self {
                Operation::Pull => status.is_none_or(|s| s >= 500 || s == 429 || s == 408),
                Operation::Push => true,
            },
            _ => false,
        }
    }
}

/// One retry about to happen, for the caller to report.
#[derive(Debug)]
pub(crate) struct Retrying<'a> {
    /// The attempt that failed (1-based).
    pub(crate) attempt: u32,
    /// Why it failed.
    pub(crate) error: &'a RegistryError,
    /// How long until the next one.
    pub(crate) wait: Duration,
}

/// An error that may be a registry's, so that operations returning the engine's error (a
/// push) and those returning the registry's (a fetch) share the policy.
pub(crate) trait AsRegistryError {
    /// The registry error inside, if it is one.
    fn as_registry_error(&self) -> Option<&RegistryError>;
}

impl AsRegistryError for RegistryError {
    fn as_registry_error(&self) -> Option<&RegistryError> {
        Some(self)
    }
}

impl AsRegistryError for crate::error::Error {
    fn as_registry_error(&self) -> Option<&RegistryError> {
        match self {
            crate::error::Error::Registry(error) => Some(error),
            _ => None,
        }
    }
}

impl RetryPolicy {
    /// Runs `attempt` until it succeeds, fails for good, or runs out of attempts; `on_retry`
    /// hears of each retry before its wait.
    pub(crate) fn run<T, E: AsRegistryError>(
        &self,
        operation: Operation,
        mut on_retry: impl FnMut(&Retrying<'_>),
        mut attempt: impl FnMut() -> Result<T, E>,
    ) -> Result<T, E> {
        let mut wait = self.backoff;
        let mut tries = 0;
        loop {
            tries += 1;
            let error = match attempt() {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let Some(registry_error) = error.as_registry_error() else { return Err(error) };
            if tries >= self.attempts || !operation.is_transient(registry_error) {
                return Err(error);
            }
            // A registry that says how long to wait is believed, up to a cap.
            if let RegistryError::Busy { retry_after: Some(asked), .. } = registry_error {
                wait = wait.max((*asked).min(MAX_RETRY_AFTER));
            }
            on_retry(&Retrying { attempt: tries, error: registry_error, wait });
            std::thread::sleep(wait);
            wait = wait.saturating_mul(2).min(MAX_BACKOFF);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(retry_after: Option<Duration>) -> RegistryError {
        RegistryError::Busy {
            image: "a:1".into(),
            host: "h".into(),
            what: "blob".into(),
            status: 503,
            retry_after,
        }
    }

    #[test]
    fn retries_transient_errors_then_gives_up_with_the_last() {
        let policy = RetryPolicy { attempts: 3, backoff: Duration::from_millis(1) };
        let mut calls = 0;
        let mut waits = Vec::new();
        let result: Result<(), RegistryError> = policy.run(
            Operation::Pull,
            |retrying| waits.push(retrying.wait),
            || {
                calls += 1;
                Err(busy(None))
            },
        );
        assert!(result.is_err());
        assert_eq!(calls, 3);
        assert_eq!(waits, [Duration::from_millis(1), Duration::from_millis(2)]);
    }

    #[test]
    fn retry_after_is_honoured_and_a_protocol_error_is_transient_only_for_a_push() {
        let protocol = RegistryError::Protocol {
            image: "a:1".into(),
            host: "h".into(),
            operation: Operation::Push,
            status: Some(400),
            cause: "DIGEST_INVALID".into(),
        };
        assert!(!Operation::Pull.is_transient(&protocol));
        assert!(Operation::Push.is_transient(&protocol));
        let policy = RetryPolicy { attempts: 2, backoff: Duration::from_millis(1) };
        let mut waits = Vec::new();
        let _: Result<(), RegistryError> =
            policy.run(Operation::Push, |r| waits.push(r.wait), || Err(busy(Some(Duration::from_millis(5)))));
        assert_eq!(waits, [Duration::from_millis(5)]);
    }
}
