//! Arbitrary bytes as an AuthenticationTicket (format 5) and as an antiforgery token: never a
//! panic, and whatever decodes re-encodes to the same bytes.
#![no_main]

use data_protection::cookie_formats::antiforgery::AntiforgeryToken;
use data_protection::cookie_formats::ticket::AuthenticationTicket;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(ticket) = AuthenticationTicket::decode(data) {
        let again = ticket.encode().expect("a decoded ticket encodes");
        let back = AuthenticationTicket::decode(&again).expect("an encoded ticket decodes");
        assert_eq!(back, ticket, "a ticket survives a round trip");
        let _ = (ticket.name(), ticket.roles().count(), ticket.expires_utc());
    }
    if let Ok(token) = AntiforgeryToken::decode(data) {
        let again = token.encode().expect("a decoded token encodes");
        let back = AntiforgeryToken::decode(&again).expect("an encoded token decodes");
        assert_eq!(back, token, "a token survives a round trip");
    }
});
