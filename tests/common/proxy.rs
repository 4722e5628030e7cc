//! A proxy the tests run themselves: HTTP `CONNECT` (and SOCKS5, for `socks5h://`), optionally
//! asking for a user and password, recording every tunnel it opens. Names under `.keyfix.test`
//! exist only here (they resolve to 127.0.0.1): a client that reaches such a name reached it
//! through this proxy.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};

use base64::Engine;

/// One tunnel: the `host:port` asked for, and the proxy's own end of the connection it opened
/// to it (the peer address the server sees).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tunnel {
    pub target: String,
    pub upstream: SocketAddr,
    pub socks: bool,
}

#[derive(Default)]
struct State {
    tunnels: Vec<Tunnel>,
    /// Requests refused for want of the right credentials.
    refused: usize,
    /// Requests that were not `CONNECT`.
    other: Vec<String>,
}

pub struct Proxy {
    addr: SocketAddr,
    credentials: Option<(String, String)>,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    /// A proxy that asks for nothing.
    pub fn start() -> Proxy {
        Proxy::listen(None)
    }

    /// A proxy that answers 407 (SOCKS5: refuses the login) without this user and password.
    pub fn with_credentials(user: &str, password: &str) -> Proxy {
        Proxy::listen(Some((user.to_owned(), password.to_owned())))
    }

    fn listen(credentials: Option<(String, String)>) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the proxy listens");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let proxy = Proxy {
            addr,
            credentials: credentials.clone(),
            state: state.clone(),
        };
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let state = state.clone();
                let credentials = credentials.clone();
                std::thread::spawn(move || {
                    let _ = serve(client, credentials.as_ref(), &state);
                });
            }
        });
        proxy
    }

    /// `http://127.0.0.1:PORT`, without credentials.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The value of `Proxy-Authorization` the proxy expects.
    pub fn expected_authorization(&self) -> Option<String> {
        self.credentials
            .as_ref()
            .map(|(user, password)| basic(user, password))
    }

    pub fn tunnels(&self) -> Vec<Tunnel> {
        self.state.lock().unwrap().tunnels.clone()
    }

    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }

    /// Request lines of anything but `CONNECT`.
    pub fn other_requests(&self) -> Vec<String> {
        self.state.lock().unwrap().other.clone()
    }
}

fn basic(user: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// Where the proxy connects for `host`: the test names on loopback, anything else as resolved.
fn connect(host: &str, port: u16) -> std::io::Result<TcpStream> {
    if host.ends_with(".keyfix.test") {
        return TcpStream::connect(("127.0.0.1", port));
    }
    let mut last = std::io::Error::other("no address");
    for addr in (host, port).to_socket_addrs()? {
        match TcpStream::connect(addr) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn serve(
    client: TcpStream,
    credentials: Option<&(String, String)>,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let mut first = [0u8; 1];
    client.peek(&mut first)?;
    if first[0] == 5 {
        return serve_socks5(client, credentials, state);
    }
    let mut reader = BufReader::new(client.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    let mut authorization = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("proxy-authorization") {
                authorization = Some(value.trim().to_owned());
            }
        }
    }
    let mut client = client;
    let parts: Vec<&str> = request_line.split_whitespace().collect();
    let [method, target, _version] = parts[..] else {
        return client.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
    };
    if method != "CONNECT" {
        state
            .lock()
            .unwrap()
            .other
            .push(request_line.trim().to_owned());
        return client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n");
    }
    if let Some((user, password)) = credentials {
        if authorization.as_deref() != Some(basic(user, password).as_str()) {
            state.lock().unwrap().refused += 1;
            return client.write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nproxy-authenticate: Basic realm=\"tests\"\r\ncontent-length: 0\r\n\r\n",
            );
        }
    }
    let Some((host, port)) = target.rsplit_once(':') else {
        return client.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let upstream = match port.parse().map(|port| connect(host, port)) {
        Ok(Ok(upstream)) => upstream,
        _ => return client.write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n"),
    };
    state.lock().unwrap().tunnels.push(Tunnel {
        target: target.to_owned(),
        upstream: upstream.local_addr()?,
        socks: false,
    });
    client.write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")?;
    // Whatever the client sent after its request head is already in the reader's buffer.
    let early = reader.buffer().to_vec();
    let mut to_server = upstream.try_clone()?;
    to_server.write_all(&early)?;
    pipe(reader.into_inner(), client, upstream)
}

/// SOCKS5 (RFC 1928), with the user and password login of RFC 1929 where one is asked for.
fn serve_socks5(
    mut client: TcpStream,
    credentials: Option<&(String, String)>,
    state: &Mutex<State>,
) -> std::io::Result<()> {
    let mut head = [0u8; 2];
    client.read_exact(&mut head)?;
    let mut methods = vec![0u8; usize::from(head[1])];
    client.read_exact(&mut methods)?;
    let wanted = if credentials.is_some() { 2 } else { 0 };
    if !methods.contains(&wanted) {
        state.lock().unwrap().refused += 1;
        return client.write_all(&[5, 0xff]);
    }
    client.write_all(&[5, wanted])?;
    if let Some((user, password)) = credentials {
        let mut version_and_length = [0u8; 2];
        client.read_exact(&mut version_and_length)?;
        let mut given_user = vec![0u8; usize::from(version_and_length[1])];
        client.read_exact(&mut given_user)?;
        let mut length = [0u8; 1];
        client.read_exact(&mut length)?;
        let mut given_password = vec![0u8; usize::from(length[0])];
        client.read_exact(&mut given_password)?;
        if given_user != user.as_bytes() || given_password != password.as_bytes() {
            state.lock().unwrap().refused += 1;
            return client.write_all(&[1, 1]);
        }
        client.write_all(&[1, 0])?;
    }
    let mut request = [0u8; 4];
    client.read_exact(&mut request)?;
    let host = match request[3] {
        1 => {
            let mut ip = [0u8; 4];
            client.read_exact(&mut ip)?;
            std::net::Ipv4Addr::from(ip).to_string()
        }
        3 => {
            let mut length = [0u8; 1];
            client.read_exact(&mut length)?;
            let mut name = vec![0u8; usize::from(length[0])];
            client.read_exact(&mut name)?;
            String::from_utf8_lossy(&name).into_owned()
        }
        _ => {
            let mut ip = [0u8; 16];
            client.read_exact(&mut ip)?;
            std::net::Ipv6Addr::from(ip).to_string()
        }
    };
    let mut port = [0u8; 2];
    client.read_exact(&mut port)?;
    let port = u16::from_be_bytes(port);
    let upstream = match connect(&host, port) {
        Ok(upstream) => upstream,
        Err(_) => return client.write_all(&[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]),
    };
    state.lock().unwrap().tunnels.push(Tunnel {
        target: format!("{host}:{port}"),
        upstream: upstream.local_addr()?,
        socks: true,
    });
    client.write_all(&[5, 0, 0, 1, 0, 0, 0, 0, 0, 0])?;
    let reader = client.try_clone()?;
    pipe(reader, client, upstream)
}

/// Copies both ways until either side closes.
fn pipe(
    mut from_client: TcpStream,
    mut to_client: TcpStream,
    upstream: TcpStream,
) -> std::io::Result<()> {
    let mut to_server = upstream.try_clone()?;
    let mut from_server = upstream;
    let uplink = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_server);
        let _ = to_server.shutdown(Shutdown::Write);
    });
    let _ = std::io::copy(&mut from_server, &mut to_client);
    let _ = to_client.shutdown(Shutdown::Write);
    let _ = uplink.join();
    Ok(())
}
