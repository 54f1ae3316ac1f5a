//! The one error type: everything that can go wrong after a tool was found, and at start-up.

use std::fmt;

/// An error a user reads: each variant's text says what happened and what to do.
#[derive(Debug)]
pub enum Error {
    /// The configuration cannot work (start-up; exit status 2).
    Config(String),
    /// Tool arguments rejected before any request was sent.
    Args(String),
    /// Refused by this server's own policy (access level).
    Denied(String),
    /// A guest, node or snapshot the call names does not exist.
    NotFound(String),
    /// PVE answered the request with an error.
    Api {
        method: &'static str,
        path: String,
        status: u16,
        message: String,
    },
    /// The request did not get an answer: connection, TLS, timeout or an unreadable body.
    Transport {
        method: &'static str,
        path: String,
        message: String,
    },
    /// The client cancelled the request (or went away) while it waited; it gets no answer.
    Cancelled,
    /// A PVE task ran and ended in error.
    Task {
        method: &'static str,
        path: String,
        upid: String,
        exitstatus: String,
        log: Vec<String>,
    },
    /// One step of a chain of requests failed (`step 3/5 resize`): its cause, and what the steps
    /// before it made (left in place for the user to keep or delete).
    Step {
        step: String,
        cause: Box<Error>,
        made: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(msg) => write!(f, "configuration: {msg}"),
            Error::Args(msg) => write!(f, "invalid arguments: {msg}"),
            Error::Denied(msg) | Error::NotFound(msg) => f.write_str(msg),
            Error::Cancelled => f.write_str("cancelled by the client"),
            Error::Api {
                method,
                path,
                status,
                message,
            } => {
                write!(f, "{method} {path}: {message}")?;
                if let Some(hint) = status_hint(*status, path, message) {
                    write!(f, " ({hint})")?;
                }
                Ok(())
            }
            Error::Transport {
                method,
                path,
                message,
            } => write!(f, "{method} {path}: {message}"),
            Error::Task {
                method,
                path,
                upid,
                exitstatus,
                log,
            } => {
                write!(
                    f,
                    "{method} {path}: task failed: {exitstatus}\ntask: {upid}"
                )?;
                if !log.is_empty() {
                    write!(f, "\nlast lines of the task log:")?;
                    for line in log {
                        write!(f, "\n  {line}")?;
                    }
                }
                Ok(())
            }
            Error::Step { step, cause, made } => {
                let cause = cause.to_string();
                // A cause of several lines (a task's log) ends before what was made is listed.
                let sep = if cause.contains('\n') { "\n" } else { "; " };
                write!(f, "{step} failed: {cause}{sep}made so far: {made}")
            }
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The error with `f` applied to every text in it that PVE (or its answer) may have written:
    /// a refusal's or transport failure's message, a task's exit status and log, a failed step's
    /// cause. Used to cut secrets PVE quotes back out of what the model sees.
    pub fn map_pve_texts(self, f: &dyn Fn(String) -> String) -> Error {
        match self {
            Error::Api {
                method,
                path,
                status,
                message,
            } => Error::Api {
                method,
                path,
                status,
                message: f(message),
            },
            Error::Transport {
                method,
                path,
                message,
            } => Error::Transport {
                method,
                path,
                message: f(message),
            },
            Error::Task {
                method,
                path,
                upid,
                exitstatus,
                log,
            } => Error::Task {
                method,
                path,
                upid,
                exitstatus: f(exitstatus),
                log: log.into_iter().map(f).collect(),
            },
            Error::Step { step, cause, made } => Error::Step {
                step,
                cause: Box::new(cause.map_pve_texts(f)),
                made,
            },
            other => other,
        }
    }
}

/// What to do about an HTTP status PVE answered with, when the message alone does not say.
fn status_hint(status: u16, path: &str, message: &str) -> Option<&'static str> {
    match status {
        // A refused login says itself what to check (password, realm, two-factor code).
        401 if path == "/access/ticket" => None,
        401 => Some(
            "PVE refused the credentials: check PROXMOX_USER and PROXMOX_TOKEN_NAME/PROXMOX_TOKEN_VALUE \
             (or PROXMOX_PASSWORD), and that the token exists and has not expired",
        ),
        403 if message.contains("not available with API token") => {
            Some("this call needs password login: set PROXMOX_PASSWORD instead of a token")
        }
        403 => Some(
            "the credentials lack the privilege PVE names above; grant it with \
             `pveum acl modify PATH --roles ROLE --users USER` (for a token, --tokens USER!NAME)",
        ),
        595..=599 => Some(
            "the PVE node that owns this resource is unreachable from the node the server talks to; \
             check that it is online (list_nodes) and retry",
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        assert!(std::mem::size_of::<Error>() <= 128);
    }

    #[test]
    fn api_error_names_the_call_and_the_fix() {
        let err = Error::Api {
            method: "GET",
            path: "/nodes/pve1/qemu/100/config".into(),
            status: 403,
            message: "Permission check failed (/vms/100, VM.Audit)".into(),
        };
        let text = err.to_string();
        assert!(text.starts_with(
            "GET /nodes/pve1/qemu/100/config: Permission check failed (/vms/100, VM.Audit) ("
        ));
        assert!(text.contains("pveum acl modify"));
    }
}
