//! Creates (or reuses) a key directory, protects and unprotects a token, lists the keys.
//!
//! ```text
//! cargo run --example quickstart [KEY_DIR]
//! ```

use data_protection::DataProtection;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// RFC 3339 in UTC to the second, as `dpkeys` prints dates.
fn rfc3339(date: OffsetDateTime) -> String {
    let utc = date.to_offset(time::UtcOffset::UTC);
    utc.replace_nanosecond(0)
        .unwrap_or(utc)
        .format(&Rfc3339)
        .unwrap_or_else(|_| utc.to_string())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| {
        std::env::temp_dir()
            .join("data-protection-quickstart")
            .display()
            .to_string()
    });
    println!("key directory: {dir}");

    let dp = DataProtection::builder()
        .application_name("MyApp")
        .persist_keys_to_directory(&dir)
        .build()
        .await?;

    let protector = dp.protector(["my purpose"]);
    let token = protector.protect_str("Hello, world!")?;
    println!("protected:   {token}");
    println!("unprotected: {}", protector.unprotect_str(&token)?);

    let other = dp.protector(["another purpose"]);
    println!(
        "with another purpose: {}",
        other
            .unprotect_str(&token)
            .map_err(|e| e.to_string())
            .unwrap_err()
    );

    println!("keys:");
    for key in dp.keys() {
        println!(
            "  {} {:<10} activates {} expires {}{}",
            key.id,
            key.status,
            rfc3339(key.activation),
            rfc3339(key.expiration),
            if key.is_default { "  (default)" } else { "" }
        );
    }
    Ok(())
}
