//! Protected cookies on axum: a visit counter and a note kept in cookies encrypted by the
//! key ring, with a server-enforced lifetime; a large note is split into chunks.
//!
//! ```sh
//! cargo run --example protected_cookies --features cookies,axum            # serves on ADDR
//! cargo run --example protected_cookies --features cookies,axum -- --demo  # drives itself, exits
//! curl -c jar -b jar http://127.0.0.1:3000/   # visits: 1, then 2, 3, ...
//! curl -c jar -b jar -d "$(head -c 5000 /dev/zero | tr '\0' x)" http://127.0.0.1:3000/note
//! curl -b jar http://127.0.0.1:3000/note       # the 5,000 x's, read back from 2 chunks
//! ```
//!
//! Settings (environment): `KEYS_DIR` (default
//! `data-protection-protected-cookies-keys` in the system temp dir), `ADDR` (default
//! `127.0.0.1:3000`).

use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use cookie::Cookie;
use data_protection::DataProtection;
use data_protection::cookies::{ProtectedCookieLayer, ProtectedCookies};

async fn visits(jar: ProtectedCookies) -> String {
    let n: u64 = jar
        .get_value("visits")
        .await
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
        + 1;
    if let Err(e) = jar.add(Cookie::new("visits", n.to_string())) {
        return format!("cannot set the cookie: {e}");
    }
    format!("visits: {n}")
}

/// The note, or 404 when there is none (or it was tampered with, or has expired).
async fn read_note(jar: ProtectedCookies) -> Result<String, StatusCode> {
    jar.get_value("note").await.ok_or(StatusCode::NOT_FOUND)
}

/// Keeps the request body as the note, for one hour.
async fn write_note(jar: ProtectedCookies, body: String) -> Result<&'static str, StatusCode> {
    let note = Cookie::new("note", body);
    (jar.add_with_lifetime(note, Duration::from_secs(3600)))
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok("saved")
}

/// The application: cookies protected by `dp`'s key ring, for 30 days unless set otherwise.
pub fn app(dp: &DataProtection) -> Router {
    let routes = Router::new()
        .route("/", get(visits))
        .route("/note", get(read_note).post(write_note));
    routes.layer(
        ProtectedCookieLayer::builder(dp)
            .default_lifetime(Duration::from_secs(30 * 24 * 3600))
            .build(),
    )
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let demo = std::env::args().any(|a| a == "--demo");
    let keys = std::env::var_os("KEYS_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("data-protection-protected-cookies-keys"));
    let dp = DataProtection::builder()
        .application_name("ProtectedCookies")
        .persist_keys_to_directory(&keys)
        .build()
        .await?;
    let addr = if demo {
        "127.0.0.1:0".to_owned()
    } else {
        var("ADDR", "127.0.0.1:3000")
    };
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let local = listener.local_addr()?;
    println!(
        "protected cookies on http://{local}/ (keys in {})",
        keys.display()
    );
    let server = axum::serve(listener, app(&dp));
    if !demo {
        server.await?;
        return Ok(());
    }
    tokio::spawn(async move { server.await });
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .no_proxy()
        .build()?;
    for _ in 0..3 {
        let r = client.get(format!("http://{local}/")).send().await?;
        let set = r
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .chars()
            .take(40)
            .collect::<String>();
        println!("{} (Set-Cookie: {set}…)", r.text().await?);
    }
    println!("done");
    Ok(())
}
