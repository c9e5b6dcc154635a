//! A fixed number of protect / unprotect operations, for instruction counting under
//! callgrind (`bash scripts/instructions.sh` runs it; wall-clock figures are `cargo bench
//! --bench protect`).
//!
//! ```sh
//! cargo build --release --example instructions
//! target/release/examples/instructions OPERATION COUNT
//! ```
//!
//! Every operation runs a few times to warm up (lazy state: the thread's RNG, the context
//! header cache), then `COUNT` times inside [`measured_loop`], the one function the script
//! tells callgrind to count. The payload is a 36-byte session id; ours use the purpose chain
//! `["MyApp", "SessionMiddleware"]`, the peer is the `cookie` crate's private jar
//! (AES-256-GCM, base64) as `benches/protect.rs` uses it.

use std::hint::black_box;

use cookie::{Cookie, CookieJar, Key};
use data_protection::{Algorithm, DataProtection, Protector};

const SESSION_ID: &str = "382c74c3-721d-4f34-80e5-57657b6cbc27";
const WARM_UP: u64 = 64;

/// The operations, in the order the script prints them.
const OPERATIONS: &[&str] = &[
    "noop",
    "protect/gcm",
    "unprotect/gcm",
    "protect-str/gcm",
    "unprotect-str/gcm",
    "protect/cbc",
    "unprotect/cbc",
    "protect-str/cbc",
    "unprotect-str/cbc",
    "jar/encrypt",
    "jar/decrypt",
];

/// Runs `op` `count` times. Never inlined: callgrind counts only inside this function.
#[inline(never)]
fn measured_loop(count: u64, op: &mut dyn FnMut()) {
    for _ in 0..count {
        op();
    }
}

/// The uncounted warm-up (its body differs from [`measured_loop`], so the compiler cannot
/// merge the two).
#[inline(never)]
fn warm_up(op: &mut dyn FnMut()) {
    for i in 0..WARM_UP {
        black_box(i);
        op();
    }
}

fn protector(algorithm: Algorithm) -> Protector {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let dp = runtime
        .block_on(
            DataProtection::builder()
                .application_name("MyApp")
                .algorithm(algorithm)
                .background_refresh(false)
                .build(),
        )
        .expect("provider");
    dp.protector(["SessionMiddleware"])
}

fn run(operation: &str, count: u64) -> Result<(), String> {
    let (family, alg) = operation.split_once('/').unwrap_or((operation, ""));
    let algorithm = match alg {
        "gcm" => Some(Algorithm::AES_256_GCM),
        "cbc" => Some(Algorithm::AES_256_CBC_HMACSHA256),
        _ => None,
    };
    let bytes = SESSION_ID.as_bytes();
    let mut op: Box<dyn FnMut()> = match (family, algorithm) {
        ("noop", _) => Box::new(|| {
            black_box(());
        }),
        ("protect", Some(a)) => {
            let p = protector(a);
            Box::new(move || {
                black_box(p.protect(black_box(bytes)).expect("protect"));
            })
        }
        ("unprotect", Some(a)) => {
            let p = protector(a);
            let payload = p.protect(bytes).expect("protect");
            Box::new(move || {
                let plain = p.unprotect(black_box(&payload)).expect("unprotect");
                assert_eq!(plain, bytes);
            })
        }
        ("protect-str", Some(a)) => {
            let p = protector(a);
            Box::new(move || {
                black_box(p.protect_str(black_box(SESSION_ID)).expect("protect"));
            })
        }
        ("unprotect-str", Some(a)) => {
            let p = protector(a);
            let token = p.protect_str(SESSION_ID).expect("protect");
            Box::new(move || {
                let plain = p.unprotect_str(black_box(&token)).expect("unprotect");
                assert_eq!(plain, SESSION_ID);
            })
        }
        ("jar", _) if alg == "encrypt" => {
            let key = Key::generate();
            let mut jar = CookieJar::new();
            Box::new(move || {
                jar.private_mut(&key)
                    .add(Cookie::new("session", black_box(SESSION_ID.to_owned())));
            })
        }
        ("jar", _) if alg == "decrypt" => {
            let key = Key::generate();
            let mut source = CookieJar::new();
            source
                .private_mut(&key)
                .add(Cookie::new("session", SESSION_ID.to_owned()));
            let encrypted = source.get("session").expect("encrypted cookie").clone();
            let mut jar = CookieJar::new();
            jar.add_original(encrypted);
            Box::new(move || {
                let cookie = jar
                    .private(&key)
                    .get(black_box("session"))
                    .expect("decrypt");
                assert_eq!(cookie.value(), SESSION_ID);
            })
        }
        _ => return Err(format!("unknown operation {operation:?}")),
    };
    warm_up(&mut *op);
    measured_loop(count, &mut *op);
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [list] if list == "--list" => {
            for op in OPERATIONS {
                println!("{op}");
            }
        }
        [operation, count] => {
            let count: u64 = match count.parse() {
                Ok(n) => n,
                Err(_) => {
                    eprintln!("COUNT must be a number, not {count:?}");
                    std::process::exit(2);
                }
            };
            if let Err(e) = run(operation, count) {
                eprintln!("{e}; operations: {}", OPERATIONS.join(" "));
                std::process::exit(2);
            }
        }
        _ => {
            eprintln!("usage: instructions OPERATION COUNT | --list");
            std::process::exit(2);
        }
    }
}
