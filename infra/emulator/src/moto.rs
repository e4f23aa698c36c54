//! moto server for SQS and EventBridge: started on a free loopback port, stopped on drop.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::paths;

pub struct MotoServer {
    port: u16,
    _child: Child,
}

const START_DEADLINE: Duration = Duration::from_secs(30);

impl MotoServer {
    pub async fn start() -> Result<Self, String> {
        let executable = paths::moto_server()?;
        let mut last_error = String::new();
        // The free port is found by binding and releasing it; another process can
        // take it in between, so a failed start is tried again on a new port.
        for _ in 0..3 {
            let port = free_port().map_err(|e| format!("no free port: {e}"))?;
            let mut child = crate::child::dies_with_parent(&mut Command::new(&executable))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("{}: {e}", executable.display()))?;
            match wait_until_listening(&mut child, port).await {
                Ok(()) => {
                    return Ok(Self {
                        port,
                        _child: child,
                    })
                }
                Err(why) => last_error = why,
            }
        }
        Err(format!("moto server did not start: {last_error}"))
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

async fn wait_until_listening(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("exited with {status}"));
        }
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "not listening on port {port} after {START_DEADLINE:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
