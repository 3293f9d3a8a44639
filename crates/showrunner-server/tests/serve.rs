//! The service on a real port: a client that never finishes its headers is cut off while
//! others are served, and shutdown returns once connections are done.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Fixture;
use showrunner_server::Config;
use tokio::net::TcpListener;

/// The status line of a GET, on a blocking client (off the runtime).
async fn get_status(address: std::net::SocketAddr, path: &'static str) -> String {
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).expect("connects");
        let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).expect("writes");
        let mut answer = String::new();
        stream.read_to_string(&mut answer).expect("reads");
        answer.lines().next().unwrap_or("").to_owned()
    })
    .await
    .expect("joins")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_shutdown_is_graceful() {
    let mut fixture = Fixture::with_model();
    fixture.config = Config {
        header_read_timeout_seconds: 1,
        ..fixture.config.clone()
    };
    let state = fixture.state().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let address = listener.local_addr().expect("address");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(showrunner_server::serve(listener, state, async {
        let _ = stopped.await;
    }));

    // A slow-loris client: headers started, never finished.
    let mut slow = TcpStream::connect(address).expect("connects");
    slow.write_all(b"GET /healthz HTTP/1.1\r\nHost: test\r\n")
        .expect("writes");
    assert_eq!(get_status(address, "/healthz").await, "HTTP/1.1 200 OK");
    // The server closes the slow connection (perhaps with a 408 first); the read timeout
    // only keeps a broken server from hanging the test.
    let closed = tokio::task::spawn_blocking(move || {
        slow.set_read_timeout(Some(Duration::from_secs(20)))
            .expect("timeout");
        let mut buffer = [0u8; 256];
        loop {
            match slow.read(&mut buffer) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(error) => {
                    return !matches!(
                        error.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    );
                }
            }
        }
    })
    .await
    .expect("joins");
    assert!(closed, "the slow connection was not closed");

    let _ = stop.send(());
    let finished = tokio::time::timeout(Duration::from_secs(20), server).await;
    assert!(
        matches!(finished, Ok(Ok(Ok(())))),
        "serve did not return cleanly"
    );
    assert!(TcpStream::connect(address).is_err(), "still listening");
}
