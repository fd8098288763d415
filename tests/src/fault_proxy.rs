//! A tiny HTTP/1.1 forwarding proxy in front of a [`crate::registry::TestRegistry`] that
//! injects faults into blob downloads: `500` answers, connections dropped mid-body, or wrong
//! bytes of the right length.
//!
//! One request per connection (`Connection: close` both ways): read the request line and
//! headers (and a body when `Content-Length` says so), forward them with `Host` rewritten,
//! read the whole answer (blobs of the tests are small), then write it back, changed or not.
//! Bounded: it serves at most [`MAX_REQUESTS`] requests and stops accepting after
//! [`MAX_LIFETIME`]; every socket has a read timeout. Stopped when dropped.

use std::{
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
/// Read timeout of every socket.
const IO_TIMEOUT: Duration = Duration::from_secs(20);

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
    /// For the first `n` blob GETs answered `200` with a body: send the headers and half the
    /// body, then close the connection.
    DropMidBody {
        /// How many.
        n: usize,
    },
    /// Every GET of this blob (`sha256:<hex>`) answers with bytes of the same length that
    /// differ from the real ones.
    WrongBytes {
        /// The blob's digest.
        digest: String,
    },
}

#[derive(Debug, Default)]
struct State {
    requests: usize,
    blob_gets: usize,
    faults: usize,
    log: Vec<String>,
}

/// A running proxy.
pub struct FaultProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    state: Arc<Mutex<State>>,
    accept: Option<JoinHandle<()>>,
}

impl FaultProxy {
    /// Starts a proxy on a free 127.0.0.1 port that forwards to `upstream` (`host:port`).
    pub fn start(upstream: &str, fault: Fault) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the fault proxy");
        let port = listener.local_addr().expect("proxy address").port();
        listener.set_nonblocking(true).expect("non-blocking listener");
        let stop = Arc::new(AtomicBool::new(false));
        let state = Arc::new(Mutex::new(State::default()));
        let upstream = upstream.to_string();
        let accept = {
            let (stop, state) = (Arc::clone(&stop), Arc::clone(&state));
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
                                (Arc::clone(&state), upstream.clone(), fault.clone());
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
        FaultProxy { port, stop, state, accept: Some(accept) }
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
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
        if matches!(lower.as_str(), "host" | "connection" | "keep-alive" | "proxy-connection") {
            continue;
        }
        headers.push(line);
    }
    let mut body = vec![0u8; body_length];
    reader.read_exact(&mut body)?;

    let blob = blob_digest(&method, &path).map(str::to_string);
    let mut client = client;
    let mut fault_now = false;
    {
        let mut state = state.lock().unwrap();
        if blob.is_some() {
            state.blob_gets += 1;
            if let Fault::ServerError { n } = fault {
                if state.faults < *n {
                    state.faults += 1;
                    state.log.push(format!("{method} {path} -> 500 [injected]"));
                    fault_now = true;
                }
            }
        }
    }
    if fault_now {
        let body = br#"{"errors":[{"code":"UNKNOWN","message":"injected by the fault proxy"}]}"#;
        write!(
            client,
            "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        client.write_all(body)?;
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
        if status == 200 && !response_body.is_empty() {
            let mut state = state.lock().unwrap();
            match fault {
                Fault::DropMidBody { n } if state.faults < *n => {
                    state.faults += 1;
                    action = "drop";
                }
                Fault::WrongBytes { digest: wrong } if wrong == digest => {
                    state.faults += 1;
                    action = "wrong";
                }
                _ => {}
            }
        }
    }
    state.lock().unwrap().log.push(format!(
        "{method} {path} -> {status}{}",
        if action.is_empty() { String::new() } else { format!(" [{action}]") }
    ));
    match action {
        "drop" => {
            client.write_all(response_head)?;
            client.write_all(&response_body[..response_body.len() / 2])?;
            client.flush()?;
        }
        "wrong" => {
            client.write_all(response_head)?;
            let wrong: Vec<u8> = response_body.iter().map(|byte| byte ^ 0x5a).collect();
            client.write_all(&wrong)?;
            client.flush()?;
        }
        _ => {
            client.write_all(&response)?;
            client.flush()?;
        }
    }
    client.shutdown(Shutdown::Both)
}

#[cfg(test)]
mod tests {
    use super::blob_digest;

    #[test]
    fn only_blob_gets_are_blob_downloads() {
        assert_eq!(blob_digest("GET", "/v2/a/one/blobs/sha256:ab"), Some("sha256:ab"));
        assert_eq!(blob_digest("HEAD", "/v2/a/one/blobs/sha256:ab"), None);
        assert_eq!(blob_digest("GET", "/v2/a/one/manifests/1"), None);
        assert_eq!(blob_digest("GET", "/v2/a/one/blobs/uploads/"), None);
    }
}
