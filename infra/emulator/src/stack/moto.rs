//! moto server for SQS, EventBridge, S3 and STS, reachable by the stack alone: moto
//! listens on a Unix socket in the stack's own folder (0700, so no other user connects),
//! and the loopback port clients use is a front that checks each request's signature
//! before it passes it on. moto itself checks nothing.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;
use tokio::net::UnixStream;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use crate::auth::{self, Credentials};
use crate::paths;

/// moto server behind its signature-checking front; both stop on drop.
pub struct MotoServer {
    port: u16,
    _child: Child,
    front: JoinHandle<()>,
}

const START_DEADLINE: Duration = Duration::from_secs(30);

impl MotoServer {
    /// Starts moto on `socket` (a path in a folder only this user can enter) with the
    /// environment `env` and nothing else of this process's, and its front on a free
    /// loopback port, answering only requests signed with `credentials`.
    pub async fn start(
        socket: &Path,
        env: &[(String, String)],
        credentials: Credentials,
    ) -> Result<Self, String> {
        let executable = paths::moto_server()?;
        let mut child = crate::child::dies_with_parent(&mut Command::new(&executable))
            .args(["-H", &format!("unix://{}", socket.display())])
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("{}: {e}", executable.display()))?;
        wait_until_listening(&mut child, socket)
            .await
            .map_err(|why| format!("moto server did not start: {why}"))?;
        let app = axum::Router::new()
            .fallback(forward)
            .with_state(socket.to_path_buf());
        let app = auth::require_signature(app, credentials, auth::Protocol::Detect);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("moto's front: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("moto's front: {e}"))?
            .port();
        let front = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self {
            port,
            _child: child,
            front,
        })
    }

    /// The front's URL: what every client of SQS, EventBridge, S3 and STS is given.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        self.front.abort();
    }
}

/// Passes a checked request to moto as it came (moto builds queue URLs from its Host),
/// streaming both bodies: an S3 object of any size goes through in small chunks.
async fn forward(State(socket): State<PathBuf>, request: Request) -> Response {
    match exchange(&socket, request).await {
        Ok(response) => response,
        Err(e) => (StatusCode::BAD_GATEWAY, format!("moto server: {e}")).into_response(),
    }
}

async fn exchange(socket: &Path, request: Request) -> Result<Response, String> {
    let stream = UnixStream::connect(socket)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    Ok(response.map(Body::new))
}

async fn wait_until_listening(child: &mut Child, socket: &Path) -> Result<(), String> {
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("exited with {status}"));
        }
        if UnixStream::connect(socket).await.is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(format!(
                "not listening on {} after {START_DEADLINE:?}",
                socket.display()
            ));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
