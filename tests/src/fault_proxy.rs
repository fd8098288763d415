//! A tiny HTTP/1.1 forwarding proxy in front of a [`crate::registry::TestRegistry`] that
//! injects faults into blob downloads: `500`, `503` or `429` answers (with `Retry-After`),
//! connections dropped mid-body, stalls, clean but short bodies, slow bodies, or wrong bytes
//! of the right length.
//!
//! One request per connection (`Connection: close` both ways): read the request line and
//! headers (and a body when `Content-Length` says so), forward them with `Host` rewritten
//! (`Range` included, so `206 Partial Content` answers come back as the registry sent them),
//! read the whole answer (blobs of the tests are a few MB at most), then write it back,
//! changed or not. It records which blob GETs carried `Range` and how many body bytes of each
//! blob it sent, for assertions.
//! Bounded: it serves at most [`MAX_REQUESTS`] requests and stops accepting after
//! [`MAX_LIFETIME`]; every socket has a read and write timeout, and a stall lasts at most
//! [`IO_TIMEOUT`]. Stopped when dropped.

use std::{
    collections::BTreeMap,
    io::{BufRead, BufReader, Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

/// The most requests one proxy serves.
pub const MAX_REQUESTS: usize = 5_000;
/// How long one proxy accepts connections.
pub const MAX_LIFETIME: Duration = Duration::from_secs(300);
/// Read and write timeout of every socket, and the longest stall.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// What the proxy does to blob downloads (`GET /v2/<name>/blobs/<digest>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Forward everything unchanged.
    None,
    /// Answer the first `n` blob GETs with `500 Internal Server Error` (never forwarded).
    ServerError {
        /// How many.
        n: usize,
    },
    /// Answer the first `n` blob GETs with `status` (`503` or `429`) and
    /// `Retry-After: <retry_after>` (never forwarded).
    Busy {
        /// How many.
        n: usize,
        /// The status, 503 or 429.
        status: u16,
        /// Seconds, as the `Retry-After` header says them.
        retry_after: u64,
    },
    /// For the first `n` blob GETs answered `200` with a body: send the headers and half the
    /// body, then close the connection.
    DropMidBody {
        /// How many.
        n: usize,
    },
    /// For the first `n` GETs of one blob answered `200`: headers and half the body, then close.
    DropBlobMidBody {
        /// The blob's digest, `sha256:<hex>`.
        digest: String,
        /// How many.
        n: usize,
    },
    /// For the first `n` blob GETs answered with a body: send the headers, then nothing for
    /// `stall` (at most [`IO_TIMEOUT`]), then close.
    Stall {
        /// How many.
        n: usize,
        /// How long.
        stall: Duration,
    },
    /// For the first `n` GETs of one blob (or of any blob) answered with a body (`200` or
    /// `206`): send half of the body, with a `Content-Length` that says so (the registry lies
    /// cleanly). `usize::MAX` for every GET.
    Truncate {
        /// The blob's digest, or `None` for any blob.
        digest: Option<String>,
        /// How many.
        n: usize,
    },
    /// Every blob body goes out in pieces of `chunk` bytes with `pause` between them.
    Throttle {
        /// Bytes per piece.
        chunk: usize,
        /// The pause after each piece.
        pause: Duration,
    },
    /// Forward blob GETs without their `Range` header, as a registry without range support
    /// would answer: `200` and the whole blob.
    IgnoreRange,
    /// Every GET of this blob (`sha256:<hex>`) answers with bytes of the same length that
    /// differ from the real ones.
    WrongBytes {
        /// The blob's digest.
        digest: String,
    },
}

/// A blob GET, as answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobGet {
    /// When it arrived.
    pub at: Instant,
    /// The blob's digest.
    pub digest: String,
    /// The status the client got.
    pub status: u16,
}

/// A blob GET that carried a `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeRequest {
    /// The blob's digest.
    pub digest: String,
    /// The header's value, e.g. `bytes=1048576-`.
    pub range: String,
    /// The status the client got.
    pub status: u16,
}

impl RangeRequest {
    /// The first byte asked for, from `bytes=N-` or `bytes=N-M`.
    pub fn start(&self) -> Option<u64> {
        self.range.trim().strip_prefix("bytes=")?.split('-').next()?.trim().parse().ok()
    }
}

#[derive(Debug, Default)]
struct State {
    requests: usize,
    blob_gets: usize,
    faults: usize,
    log: Vec<String>,
    ranges: Vec<RangeRequest>,
    gets: Vec<BlobGet>,
    /// Body bytes of each blob written to clients.
    sent: BTreeMap<String, u64>,
}

/// A running proxy.
pub struct FaultProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
    fault: Arc<Mutex<Fault>>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free 127.0.0.1 port that forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str, fault: Fault) -> FaultProxy {
        FaultProxy::start_on(std::net::Ipv4Addr::LOCALHOST.into(), upstream, fault)
    }

    /// [`FaultProxy::start`] on a free port of another local address (a test that needs a
    /// registry under a name that is not a loopback name).
    pub fn start_on(address: std::net::IpAddr, upstream: &str, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind((address, 0)).expect("bind the fault proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(State::default()));
        let fault = Arc::new(Mutex::new(fault));
        let upstream = upstream.to_string();
        let accept = {
            let (stop, state, fault) = (Arc::clone(&stop), Arc::clone(&state), Arc::clone(&fault));
            std::thread::spawn(move || {
                let deadline = Instant::now() + MAX_LIFETIME;
                while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
                    match listener.accept() {
                        Ok((client, _)) => {
                            {
                                let mut state = state.lock().unwrap();
                                if state.requests >= MAX_REQUESTS {
                                    return;
                                }
                                state.requests += 1;
                            }
                            let (state, upstream, fault) =
                                (Arc::clone(&state), upstream.clone(), fault.lock().unwrap().clone());
                            std::thread::spawn(move || {
                                let _ = serve(client, &upstream, &fault, &state);
                            });
                        }
                        Err(error) if error.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        FaultProxy { port, stop, state, fault, accept: Some(accept) }
    }

    /// Injects `fault` from the next connection on, and counts faults from zero again.
    pub fn set_fault(&self, fault: Fault) {
        *self.fault.lock().unwrap() = fault;
        self.state.lock().unwrap().faults = 0;
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many faults were injected so far.
    pub fn faults(&self) -> usize {
        self.state.lock().unwrap().faults
    }

    /// How many blob GETs arrived so far.
    pub fn blob_gets(&self) -> usize {
        self.state.lock().unwrap().blob_gets
    }

    /// One line per request: `METHOD path -> status [fault]`.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }

    /// Every blob GET, in order of arrival.
    pub fn blob_get_log(&self) -> Vec<BlobGet> {
        self.state.lock().unwrap().gets.clone()
    }

    /// Every blob GET that carried a `Range` header, in order.
    pub fn range_requests(&self) -> Vec<RangeRequest> {
        self.state.lock().unwrap().ranges.clone()
    }

    /// Body bytes of blob `digest` written to clients so far (a lower bound of what arrived
    /// while a write is under way).
    pub fn bytes_sent(&self, digest: &str) -> u64 {
        self.state.lock().unwrap().sent.get(digest).copied().unwrap_or(0)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(accept) = self.accept.take() {
            let _ = accept.join();
        }
    }
}

/// The blob digest of `GET /v2/<name>/blobs/<digest>`.
fn blob_digest<'a>(method: &str, path: &'a str) -> Option<&'a str> {
    if method != "GET" {
        return None;
    }
    let path = path.split('?').next()?;
    let (_, digest) = path.strip_prefix("/v2/")?.rsplit_once("/blobs/")?;
    digest.starts_with("sha256:").then_some(digest)
}

fn serve(client: TcpStream, upstream: &str, fault: &Fault, state: &Mutex<State>) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    client.set_read_timeout(Some(IO_TIMEOUT))?;
    client.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut parts = request_line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = Vec::new();
    let mut body_length = 0usize;
    let mut range = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\r', '\n']).to_string();
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else { continue };
        let lower = name.trim().to_ascii_lowercase();
        if lower == "content-length" {
            body_length = value.trim().parse().unwrap_or(0);
        }
        if lower == "range" {
            range = Some(value.trim().to_string());
            if *fault == Fault::IgnoreRange {
                continue;
            }
        }
        if matches!(lower.as_str(), "host" | "connection" | "keep-alive" | "proxy-connection") {
            continue;
        }
        headers.push(line);
    }
    let mut body = vec![0u8; body_length];
    reader.read_exact(&mut body)?;

    let arrived = Instant::now();
    let blob = blob_digest(&method, &path).map(str::to_string);
    let mut client = client;
    let mut refusal = None;
    {
        let mut state = state.lock().unwrap();
        if blob.is_some() {
            state.blob_gets += 1;
            match fault {
                Fault::ServerError { n } if state.faults < *n => refusal = Some((500, None)),
                Fault::Busy { n, status, retry_after } if state.faults < *n => {
                    refusal = Some((*status, Some(*retry_after)))
                }
                _ => {}
            }
            if let Some((status, _)) = refusal {
                let digest = blob.clone().unwrap_or_default();
                state.gets.push(BlobGet { at: arrived, digest, status });
                state.faults += 1;
                state.log.push(format!("{method} {path} -> {status} [injected]"));
            }
        }
    }
    if let Some((status, retry_after)) = refusal {
        let (reason, code) = match status {
            429 => ("Too Many Requests", "TOOMANYREQUESTS"),
            503 => ("Service Unavailable", "UNAVAILABLE"),
            _ => ("Internal Server Error", "UNKNOWN"),
        };
        let body = format!(r#"{{"errors":[{{"code":"{code}","message":"injected by the fault proxy"}}]}}"#);
        let retry_after = retry_after.map(|s| format!("Retry-After: {s}\r\n")).unwrap_or_default();
        write!(
            client,
            "HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{retry_after}Connection: close\r\n\r\n",
            body.len()
        )?;
        client.write_all(body.as_bytes())?;
        client.flush()?;
        return client.shutdown(Shutdown::Both);
    }

    let mut up = TcpStream::connect(upstream)?;
    up.set_read_timeout(Some(IO_TIMEOUT))?;
    up.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n");
    for header in &headers {
        head.push_str(header);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    up.write_all(head.as_bytes())?;
    up.write_all(&body)?;
    up.flush()?;
    let mut response = Vec::new();
    up.read_to_end(&mut response)?;

    let split = response.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).unwrap_or(response.len());
    let (response_head, response_body) = response.split_at(split);
    let status: u16 = String::from_utf8_lossy(response_head)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let mut action = "";
    if let Some(digest) = &blob {
        let mut state = state.lock().unwrap();
        state.gets.push(BlobGet { at: arrived, digest: digest.clone(), status });
        if let Some(range) = &range {
            state.ranges.push(RangeRequest { digest: digest.clone(), range: range.clone(), status });
        }
        let with_body = (status == 200 || status == 206) && !response_body.is_empty();
        if with_body {
            let under = |n: usize, state: &State| state.faults < n;
            action = match fault {
                Fault::DropMidBody { n } if status == 200 && under(*n, &state) => "drop",
                Fault::DropBlobMidBody { digest: wanted, n }
                    if wanted == digest && status == 200 && under(*n, &state) =>
                {
                    "drop"
                }
                Fault::Stall { n, .. } if under(*n, &state) => "stall",
                Fault::Truncate { digest: wanted, n }
                    if wanted.as_ref().is_none_or(|w| w == digest) && under(*n, &state) =>
                {
                    "truncate"
                }
                Fault::WrongBytes { digest: wrong } if wrong == digest => "wrong",
                Fault::Throttle { .. } => "throttle",
                _ => "",
            };
            if !action.is_empty() && action != "throttle" {
                state.faults += 1;
            }
        }
        state.log.push(format!(
            "{method} {path}{} -> {status}{}",
            range.as_ref().map(|r| format!(" (Range: {r})")).unwrap_or_default(),
            if action.is_empty() { String::new() } else { format!(" [{action}]") }
        ));
    } else {
        state.lock().unwrap().log.push(format!("{method} {path} -> {status}"));
    }
    let count = |sent: usize| {
        if let Some(digest) = &blob {
            *state.lock().unwrap().sent.entry(digest.clone()).or_default() += sent as u64;
        }
    };
    match (action, fault) {
        ("drop", _) => {
            let half = &response_body[..response_body.len() / 2];
            client.write_all(response_head)?;
            client.write_all(half)?;
            count(half.len());
            client.flush()?;
        }
        ("stall", Fault::Stall { stall, .. }) => {
            client.write_all(response_head)?;
            client.flush()?;
            std::thread::sleep((*stall).min(IO_TIMEOUT));
        }
        ("truncate", _) => {
            let half = &response_body[..response_body.len() / 2];
            client.write_all(&with_content_length(response_head, half.len()))?;
            client.write_all(half)?;
            count(half.len());
            client.flush()?;
        }
        ("wrong", _) => {
            client.write_all(response_head)?;
            let wrong: Vec<u8> = response_body.iter().map(|byte| byte ^ 0x5a).collect();
            client.write_all(&wrong)?;
            count(wrong.len());
            client.flush()?;
        }
        ("throttle", Fault::Throttle { chunk, pause }) => {
            client.write_all(response_head)?;
            client.flush()?;
            for piece in response_body.chunks((*chunk).max(1)) {
                client.write_all(piece)?;
                client.flush()?;
                count(piece.len());
                std::thread::sleep(*pause);
            }
        }
        _ => {
            client.write_all(&response)?;
            count(response_body.len());
            client.flush()?;
        }
    }
    client.shutdown(Shutdown::Both)
}

/// A response head with its `Content-Length` set to `length`.
fn with_content_length(head: &[u8], length: usize) -> Vec<u8> {
    let text = String::from_utf8_lossy(head);
    let mut out = String::new();
    for line in text.split("\r\n") {
        if line.is_empty() {
            continue;
        }
        if line.to_ascii_lowercase().starts_with("content-length:") {
            out.push_str(&format!("Content-Length: {length}\r\n"));
        } else if line.to_ascii_lowercase().starts_with("content-range:") {
            // `bytes A-B/T`: the range now ends earlier.
            let value = line.split_once(':').map(|(_, v)| v.trim()).unwrap_or("");
            let start: u64 = value
                .strip_prefix("bytes ")
                .and_then(|v| v.split('-').next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let total = value.rsplit('/').next().unwrap_or("*");
            let end = (start + length as u64).saturating_sub(1);
            out.push_str(&format!("Content-Range: bytes {start}-{end}/{total}\r\n"));
        } else {
            out.push_str(line);
            out.push_str("\r\n");
        }
    }
    out.push_str("\r\n");
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::{blob_digest, with_content_length, RangeRequest};

    #[test]
    fn a_short_body_gets_a_matching_content_length_and_range() {
        let head =
            b"HTTP/1.1 206 Partial Content\r\nContent-Length: 100\r\nContent-Range: bytes 50-149/150\r\n\r\n";
        let text = String::from_utf8(with_content_length(head, 40)).unwrap();
        assert!(text.starts_with("HTTP/1.1 206 Partial Content\r\n"), "{text}");
        assert!(text.contains("Content-Length: 40\r\n"), "{text}");
        assert!(text.contains("Content-Range: bytes 50-89/150\r\n"), "{text}");
        assert!(text.ends_with("\r\n\r\n"), "{text}");
    }

    #[test]
    fn range_starts_are_read() {
        let request =
            |range: &str| RangeRequest { digest: String::new(), range: range.to_string(), status: 206 };
        assert_eq!(request("bytes=1024-").start(), Some(1024));
        assert_eq!(request("bytes=0-99").start(), Some(0));
        assert_eq!(request("items=3-").start(), None);
    }

    #[test]
    fn only_blob_gets_are_blob_downloads() {
        assert_eq!(blob_digest("GET", "/v2/a/one/blobs/sha256:ab"), Some("sha256:ab"));
        assert_eq!(blob_digest("HEAD", "/v2/a/one/blobs/sha256:ab"), None);
        assert_eq!(blob_digest("GET", "/v2/a/one/manifests/1"), None);
        assert_eq!(blob_digest("GET", "/v2/a/one/blobs/uploads/"), None);
    }
}
