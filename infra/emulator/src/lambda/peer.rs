//! A function's Runtime API answers its own process only. The API listens on loopback,
//! which every local user reaches, and a runtime client cannot be handed a secret (it
//! builds its URLs from `AWS_LAMBDA_RUNTIME_API`, a bare `host:port`). So each accepted
//! connection is traced to the process that holds its other end, as the kernel lists
//! them: the socket's inode from `/proc/net/tcp`, and that inode among the open files of
//! the function's process or of a process it started. Any other connection is closed
//! before a byte is read.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long a connection may wait for its process to be known: the function's pid is
/// recorded right after spawn, and a quick runtime can connect before that.
const TRACE_TRIES: usize = 50;
const TRACE_PAUSE: Duration = Duration::from_millis(10);

/// A listener that yields only the connections of the process whose pid `owner` holds
/// (0: none yet), and of that process's descendants.
pub struct ProcessListener {
    accepted: mpsc::Receiver<(TcpStream, SocketAddr)>,
    local: SocketAddr,
    task: JoinHandle<()>,
}

impl ProcessListener {
    pub fn new(listener: TcpListener, owner: Arc<AtomicU32>) -> std::io::Result<Self> {
        let local = listener.local_addr()?;
        let (sender, accepted) = mpsc::channel(16);
        let task = tokio::spawn(async move {
            while let Ok((stream, peer)) = listener.accept().await {
                let sender = sender.clone();
                let owner = owner.clone();
                tokio::spawn(async move {
                    for _ in 0..TRACE_TRIES {
                        if held_by(peer, local, owner.load(Ordering::SeqCst)) {
                            let _ = sender.send((stream, peer)).await;
                            return;
                        }
                        tokio::time::sleep(TRACE_PAUSE).await;
                    }
                    tracing::warn!(%peer, "a connection to a function's Runtime API from another process was refused");
                });
            }
        });
        Ok(Self {
            accepted,
            local,
            task,
        })
    }
}

impl Drop for ProcessListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl axum::serve::Listener for ProcessListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.accepted.recv().await {
            Some(connection) => connection,
            // The accept task ended (the listener failed): serve nothing more.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

/// Whether the client end of the connection `peer` -> `local` is open in process `pid`
/// or one of its descendants.
fn held_by(peer: SocketAddr, local: SocketAddr, pid: u32) -> bool {
    if pid == 0 {
        return false;
    }
    let Some(inode) = socket_inode(peer, local) else {
        return false;
    };
    let link = format!("socket:[{inode}]");
    crate::child::family(pid).into_iter().any(|member| {
        std::fs::read_dir(format!("/proc/{member}/fd"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|fd| std::fs::read_link(fd.path()).is_ok_and(|to| to.as_os_str() == link.as_str()))
    })
}

/// The inode of the socket whose local end is `peer` and remote end `local`.
fn socket_inode(peer: SocketAddr, local: SocketAddr) -> Option<u64> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (from, to, inode) = (fields.get(1)?, fields.get(2)?, fields.get(9)?);
        (parse_address(from)? == peer && parse_address(to)? == local)
            .then(|| inode.parse().ok())
            .flatten()
    })
}

/// `0100007F:1F90` as the kernel prints an IPv4 socket address: the address as the
/// machine stores it, the port big-endian.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let ip = u32::from_str_radix(ip, 16).ok()?;
    let port = u16::from_str_radix(port, 16).ok()?;
    Some(SocketAddr::V4(SocketAddrV4::new(
        Ipv4Addr::from(ip.to_ne_bytes()),
        port,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_is_traced_to_the_process_that_holds_it() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let client = std::net::TcpStream::connect(local).unwrap();
        let (_server, peer) = listener.accept().await.unwrap();
        assert_eq!(peer, client.local_addr().unwrap());
        assert!(socket_inode(peer, local).is_some());
        assert!(held_by(peer, local, std::process::id()));
        // Another process, not below this one, holds no end of it.
        let mut other = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert!(!held_by(peer, local, other.id()));
        other.kill().unwrap();
        other.wait().unwrap();
        assert!(!held_by(peer, local, 0));
    }

    #[test]
    fn the_kernels_address_form_is_read() {
        let expected: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let stored = u32::from_ne_bytes([127, 0, 0, 1]);
        assert_eq!(parse_address(&format!("{stored:08X}:1F90")), Some(expected));
    }
}
