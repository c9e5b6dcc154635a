//! What another node, an old version or an attacker with write access to the store may leave
//! there, written raw into every store layout (a directory, a Redis list, a single-blob
//! document): dates at and past year 9999, keys this node cannot read, revocations it cannot
//! parse. Nothing panics, the background refresher survives, the ring fails closed (no key
//! is created from a state this node does not understand), and `prune` keeps revocations
//! that might concern a key it could not read.

use std::sync::Arc;
use std::time::Duration;

use data_protection::repository::XmlRepository;
use data_protection::{DataProtection, Error, KeyId, KeyStatus, ManualClock, RingProblem};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::support::log_capture::Warnings;

/// The store layouts, as `repository::open` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Directory,
    #[cfg(feature = "redis")]
    RedisList,
    #[cfg(feature = "object-store")]
    SingleBlob,
}

/// Every layout this build has.
pub fn layouts() -> Vec<Layout> {
    vec![
        Layout::Directory,
        #[cfg(feature = "redis")]
        Layout::RedisList,
        #[cfg(feature = "object-store")]
        Layout::SingleBlob,
    ]
}

/// A fresh, empty store of one layout, and raw write access to it (bypassing the crate).
pub struct RawStore {
    pub layout: Layout,
    dir: tempfile::TempDir,
    #[cfg(feature = "redis")]
    list: String,
}

impl RawStore {
    pub fn new(layout: Layout) -> Self {
        Self {
            layout,
            dir: tempfile::tempdir().unwrap(),
            #[cfg(feature = "redis")]
            list: crate::backends::unique("dp-hostile"),
        }
    }

    pub fn url(&self) -> String {
        match self.layout {
            Layout::Directory => self.dir.path().display().to_string(),
            #[cfg(feature = "redis")]
            Layout::RedisList => {
                format!("{}?key={}", crate::backends::env("REDIS_URL"), self.list)
            }
            #[cfg(feature = "object-store")]
            Layout::SingleBlob => format!("file://{}?layout=single-blob", self.blob().display()),
        }
    }

    #[cfg(feature = "object-store")]
    fn blob(&self) -> std::path::PathBuf {
        self.dir.path().join("keys.xml")
    }

    /// Replaces the document at once (readers never see half of it).
    #[cfg(feature = "object-store")]
    fn write_blob(&self, doc: &str) {
        let tmp = self.dir.path().join("keys.xml.planting");
        std::fs::write(&tmp, doc).unwrap();
        std::fs::rename(&tmp, self.blob()).unwrap();
    }

    /// Whether a torn element spoils only itself (not in a single blob: the whole document).
    pub fn keeps_torn_elements_apart(&self) -> bool {
        match self.layout {
            #[cfg(feature = "object-store")]
            Layout::SingleBlob => false,
            _ => true,
        }
    }

    pub fn repo(&self) -> Arc<dyn XmlRepository> {
        data_protection::repository::open(&self.url()).unwrap()
    }

    #[cfg(feature = "redis")]
    async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(crate::backends::env("REDIS_URL"))
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Writes `xml` as the element named `name` (the name is used only where the layout keeps
    /// names: the directory's file name).
    pub async fn plant(&self, name: &str, xml: &str) {
        match self.layout {
            Layout::Directory => {
                std::fs::write(self.dir.path().join(format!("{name}.xml")), xml).unwrap();
            }
            #[cfg(feature = "redis")]
            Layout::RedisList => {
                let _: i64 = redis::AsyncCommands::rpush(&mut self.redis().await, &self.list, xml)
                    .await
                    .unwrap();
            }
            #[cfg(feature = "object-store")]
            Layout::SingleBlob => {
                let doc = std::fs::read_to_string(self.blob()).unwrap_or_else(|_| {
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><repository></repository>".into()
                });
                let at = doc.rfind("</repository>").expect("a repository document");
                self.write_blob(&format!("{}{xml}{}", &doc[..at], &doc[at..]));
            }
        }
    }

    /// Removes what [`plant`](Self::plant) wrote.
    pub async fn unplant(&self, name: &str, xml: &str) {
        match self.layout {
            Layout::Directory => {
                std::fs::remove_file(self.dir.path().join(format!("{name}.xml"))).unwrap();
            }
            #[cfg(feature = "redis")]
            Layout::RedisList => {
                let removed: i64 =
                    redis::AsyncCommands::lrem(&mut self.redis().await, &self.list, 0, xml)
                        .await
                        .unwrap();
                assert_eq!(removed, 1);
            }
            #[cfg(feature = "object-store")]
            Layout::SingleBlob => {
                let doc = std::fs::read_to_string(self.blob()).unwrap();
                assert!(doc.contains(xml), "the planted element is still there");
                self.write_blob(&doc.replacen(xml, "", 1));
            }
        }
    }

    /// How many elements the store holds.
    pub async fn count(&self) -> usize {
        self.repo().get_all_elements().await.unwrap().len()
    }

    /// The XML of every element.
    pub async fn texts(&self) -> Vec<String> {
        self.repo()
            .get_all_elements()
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.xml.to_string())
            .collect()
    }
}

/// Replaces the text of `<tag>…</tag>` in `xml`.
fn set_text(xml: &str, tag: &str, value: &str) -> String {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = xml.find(&open).expect(tag) + open.len();
    let end = start + xml[start..].find(&close).expect(tag);
    format!("{}{value}{}", &xml[..start], &xml[end..])
}

/// A copy of the key element `template` (a readable key) under `id` with these dates.
fn key_like(template: &str, id: &str, created: &str, activation: &str, expiration: &str) -> String {
    let old_id = template
        .split("id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a key id");
    let xml = template.replacen(old_id, id, 1);
    let xml = set_text(&xml, "creationDate", created);
    let xml = set_text(&xml, "activationDate", activation);
    set_text(&xml, "expirationDate", expiration)
}

/// The compact XML of the one key in `store` (its own first key).
async fn own_key(store: &RawStore) -> String {
    let texts = store.texts().await;
    assert_eq!(texts.len(), 1, "{:?}", store.layout);
    data_protection::xml::XmlElement::parse(&texts[0])
        .unwrap()
        .to_compact_string()
}

fn node(store: &RawStore) -> data_protection::DataProtectionBuilder {
    DataProtection::builder()
        .application_name("Hostile")
        .persist_keys_to_shared(store.repo())
}

/// Waits up to 20 s for `done`.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(std::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn keys_dated_at_and_past_year_9999_never_panic_and_are_reported() {
    for layout in layouts() {
        let store = RawStore::new(layout);
        let dp = node(&store)
            .refresh_interval(Duration::from_millis(200))
            .build()
            .await
            .unwrap();
        let p = dp.protector(["p"]);
        let token = p.protect(b"kept").unwrap();
        let default = dp.default_key().unwrap();
        let template = own_key(&store).await;
        let now = OffsetDateTime::now_utc()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let at_the_edge = "aaaaaaaa-0000-0000-0000-000000009999";
        let created_past = "bbbbbbbb-0000-0000-0000-000000009999";
        let expires_past = "cccccccc-0000-0000-0000-000000009999";
        let activates_past = "dddddddd-0000-0000-0000-000000009999";
        let planted = [
            // The last instant .NET can hold, everywhere: a valid key, pending forever.
            key_like(
                &template,
                at_the_edge,
                "9999-12-31T23:59:59Z",
                "9999-12-31T23:59:59Z",
                "9999-12-31T23:59:59.9999999Z",
            ),
            // Local dates that are past 9999-12-31 in UTC.
            key_like(
                &template,
                created_past,
                "9999-12-31T23:59:59-01:00",
                &now,
                "9999-12-31T23:59:59Z",
            ),
            key_like(
                &template,
                expires_past,
                &now,
                &now,
                "9999-12-31T23:00:00-05:00",
            ),
            key_like(
                &template,
                activates_past,
                &now,
                "9999-12-31T23:30:00-00:45",
                "9999-12-31T23:59:59Z",
            ),
        ];
        let ids = [at_the_edge, created_past, expires_past, activates_past];
        for (id, xml) in ids.iter().zip(&planted) {
            store.plant(&format!("key-{id}"), xml).await;
        }
        dp.refresh().await.unwrap();
        let keys = dp.keys();
        let status = |id: &str| {
            let id: KeyId = id.parse().unwrap();
            keys.iter().find(|k| k.id == id).map(|k| k.status)
        };
        assert_eq!(status(at_the_edge), Some(KeyStatus::Pending), "{layout:?}");
        let problems = dp.problems();
        for id in [created_past, expires_past, activates_past] {
            assert!(
                problems.iter().any(|p| p.to_string().contains(id)),
                "{layout:?}: {id} is reported: {problems:?}"
            );
            assert!(
                matches!(status(id), None | Some(KeyStatus::Unreadable)),
                "{layout:?}: {id} is never used"
            );
        }
        assert_eq!(dp.default_key(), Some(default), "{layout:?}");
        assert_eq!(p.unprotect(&token).unwrap(), b"kept");
        assert_eq!(p.unprotect(&p.protect(b"new").unwrap()).unwrap(), b"new");
        let outcome = dp.ensure_key().await.unwrap();
        assert_eq!(outcome.created, None, "{layout:?}: nothing is due");
        // The refresher keeps running over this ring: a key another node adds is picked up.
        let other = node(&store)
            .background_refresh(false)
            .build()
            .await
            .unwrap();
        let added = other
            .create_key(
                OffsetDateTime::now_utc() + time::Duration::days(1),
                OffsetDateTime::now_utc() + time::Duration::days(90),
            )
            .await
            .unwrap();
        eventually("the refresher picks up the new key", || {
            dp.keys().iter().any(|k| k.id == added)
        })
        .await;
        // And dpkeys-style maintenance with extreme values saturates instead of panicking.
        dp.prune(Duration::MAX, true).await.unwrap();
        dp.prune(Duration::ZERO, true).await.unwrap();
    }
}

/// Revocations this node cannot parse, as another writer could leave them.
fn malformed_revocations() -> Vec<(&'static str, String)> {
    vec![
        (
            "past 9999 in UTC",
            "<revocation version=\"1\"><revocationDate>9999-12-31T23:00:00-05:00</revocationDate>\
             <key id=\"*\" /><reason>x</reason></revocation>"
                .to_owned(),
        ),
        (
            "bad key id",
            "<revocation version=\"1\"><revocationDate>2026-01-01T00:00:00Z</revocationDate>\
             <key id=\"not-a-guid\" /><reason>x</reason></revocation>"
                .to_owned(),
        ),
        (
            "no key",
            "<revocation version=\"1\"><revocationDate>2026-01-01T00:00:00Z</revocationDate>\
             <reason>x</reason></revocation>"
                .to_owned(),
        ),
        (
            "mass revocation without a date",
            "<revocation version=\"1\"><key id=\"*\" /><reason>x</reason></revocation>".to_owned(),
        ),
    ]
}

#[tokio::test]
async fn an_unparsable_revocation_fails_the_load_keeps_the_last_ring_and_creates_nothing() {
    for layout in layouts() {
        for (what, xml) in malformed_revocations() {
            let store = RawStore::new(layout);
            let dp = node(&store)
                .refresh_interval(Duration::from_millis(200))
                .build()
                .await
                .unwrap();
            let p = dp.protector(["p"]);
            let token = p.protect(b"kept").unwrap();
            let default = dp.default_key().unwrap();
            let warnings = Warnings::default();
            let guard = tracing::subscriber::set_default(warnings.subscriber());
            store.plant("revocation-hostile", &xml).await;

            let err = dp.refresh().await.unwrap_err();
            assert!(
                matches!(err, Error::InvalidKeyRing { .. }),
                "{layout:?} {what}: {err}"
            );
            assert!(
                warnings
                    .errors()
                    .iter()
                    .any(|e| e.contains("the key ring cannot be loaded")),
                "{layout:?} {what}: a loud report: {:?}",
                warnings.messages()
            );
            assert!(
                dp.health().last_refresh_error.is_some(),
                "{layout:?} {what}"
            );
            // The last good ring serves on.
            assert_eq!(dp.default_key(), Some(default));
            assert_eq!(p.unprotect(&token).unwrap(), b"kept");
            assert!(p.protect(b"still").is_ok());
            // No key from that state: not by this node, not by a new one, not when forced.
            assert!(dp.ensure_key_forced().await.is_err(), "{layout:?} {what}");
            let fresh = node(&store).background_refresh(false).build().await;
            assert!(
                matches!(fresh, Err(Error::InvalidKeyRing { .. })),
                "{layout:?} {what}: a new node does not start on it"
            );
            assert_eq!(store.count().await, 2, "{layout:?} {what}: nothing created");
            drop(guard);

            // The background refresher survived the failures: once the element is gone it
            // loads again by itself.
            store.unplant("revocation-hostile", &xml).await;
            eventually("the refresher recovers", || {
                dp.health().last_refresh_error.is_none()
            })
            .await;
            assert_eq!(dp.default_key(), Some(default), "{layout:?} {what}");
        }
    }
}

#[tokio::test]
async fn an_unparsable_revocation_on_an_empty_store_creates_no_first_key() {
    for layout in layouts() {
        let store = RawStore::new(layout);
        let (_, xml) = &malformed_revocations()[0];
        store.plant("revocation-hostile", xml).await;
        let built = node(&store).build().await;
        assert!(
            matches!(built, Err(Error::InvalidKeyRing { .. })),
            "{layout:?}: {built:?}"
        );
        assert_eq!(store.count().await, 1, "{layout:?}: no key was written");
    }
}

/// A key element this node cannot read the secret of: `kind` is `dpapi`, `certificate` or
/// `unknown descriptor`.
fn unreadable_key(kind: &str, id: &str, created: &str, expires: &str) -> String {
    let aspnet = "Microsoft.AspNetCore.DataProtection";
    let descriptor = match kind {
        "dpapi" => format!(
            "<descriptor deserializerType=\"{aspnet}.AuthenticatedEncryption.ConfigurationModel.\
             AuthenticatedEncryptorDescriptorDeserializer, {aspnet}\"><descriptor>\
             <encryption algorithm=\"AES_256_CBC\" /><validation algorithm=\"HMACSHA256\" />\
             <encryptedSecret decryptorType=\"{aspnet}.XmlEncryption.DpapiXmlDecryptor, {aspnet}\" \
             xmlns=\"http://schemas.asp.net/2015/03/dataProtection\"><encryptedKey xmlns=\"\">\
             <value>AQAAANCMnd8BFdERjHoAwE</value></encryptedKey></encryptedSecret>\
             </descriptor></descriptor>"
        ),
        "certificate" => format!(
            "<descriptor deserializerType=\"{aspnet}.AuthenticatedEncryption.ConfigurationModel.\
             AuthenticatedEncryptorDescriptorDeserializer, {aspnet}\"><descriptor>\
             <encryption algorithm=\"AES_256_CBC\" /><validation algorithm=\"HMACSHA256\" />\
             <encryptedSecret decryptorType=\"{aspnet}.XmlEncryption.EncryptedXmlDecryptor, {aspnet}\" \
             xmlns=\"http://schemas.asp.net/2015/03/dataProtection\">\
             <EncryptedData Type=\"http://www.w3.org/2001/04/xmlenc#Element\" \
             xmlns=\"http://www.w3.org/2001/04/xmlenc#\"><EncryptionMethod \
             Algorithm=\"http://www.w3.org/2001/04/xmlenc#aes256-cbc\" /><CipherData>\
             <CipherValue>q83vEjRWeJA=</CipherValue></CipherData></EncryptedData>\
             </encryptedSecret></descriptor></descriptor>"
        ),
        _ => "<descriptor deserializerType=\"Contoso.Custom.Deserializer, Contoso\">\
              <descriptor /></descriptor>"
            .to_owned(),
    };
    format!(
        "<key id=\"{id}\" version=\"1\"><creationDate>{created}</creationDate>\
         <activationDate>{created}</activationDate><expirationDate>{expires}</expirationDate>\
         {descriptor}</key>"
    )
}

#[tokio::test]
async fn only_unreadable_keys_never_make_this_node_create_one() {
    for layout in layouts() {
        for (kind, reason) in [
            ("dpapi", "Dpapi"),
            ("certificate", "EncryptedXml"),
            ("unknown descriptor", "Contoso"),
        ] {
            let store = RawStore::new(layout);
            // An older key this node can read (it protected `token`), then a newer key it
            // cannot read that every node picks as the default.
            let clock = Arc::new(ManualClock::new(datetime!(2026-01-10 0:00 UTC)));
            let first = node(&store)
                .clock(clock.clone())
                .background_refresh(false)
                .build()
                .await
                .unwrap();
            let token = first.protector(["p"]).protect(b"old").unwrap();
            let id = "eeeeeeee-0000-0000-0000-000000000001";
            let xml = unreadable_key(kind, id, "2026-01-20T00:00:00Z", "2026-04-20T00:00:00Z");
            store.plant(&format!("key-{id}"), &xml).await;
            clock.set(datetime!(2026-02-01 0:00 UTC));

            let warnings = Warnings::default();
            let guard = tracing::subscriber::set_default(warnings.subscriber());
            let dp = node(&store)
                .clock(clock.clone())
                .background_refresh(false)
                .build()
                .await
                .unwrap();
            let what = format!("{layout:?} {kind}");
            assert_eq!(store.count().await, 2, "{what}: no key was created");
            let id: KeyId = id.parse().unwrap();
            assert!(
                dp.problems().iter().any(
                    |p| matches!(p, RingProblem::UnreadableDefaultKey { id: i, .. } if *i == id)
                ),
                "{what}: {:?}",
                dp.problems()
            );
            let errors = warnings.errors();
            assert!(
                errors
                    .iter()
                    .any(|e| e.contains(&id.to_string()) && e.contains(reason)),
                "{what}: an error log names the key and why: {errors:?}"
            );
            let p = dp.protector(["p"]);
            match p.protect(b"new") {
                Err(e @ Error::DefaultKeyUnreadable { id: i, .. }) => {
                    assert_eq!(i, id, "{what}");
                    assert!(e.to_string().contains(&id.to_string()), "{what}: {e}");
                }
                other => panic!("{what}: protect must fail closed, got {other:?}"),
            }
            assert_eq!(
                p.unprotect(&token).unwrap(),
                b"old",
                "{what}: other keys work"
            );
            let outcome = dp.ensure_key().await.unwrap();
            assert_eq!(outcome.created, None, "{what}");
            assert_eq!(outcome.blocked_by_unreadable, Some(id), "{what}");
            // Even when its successor would be due, no key is created beside it.
            clock.set(datetime!(2026-04-19 0:00 UTC));
            let outcome = dp.ensure_key().await.unwrap();
            assert_eq!(outcome.created, None, "{what}: successor blocked");
            assert_eq!(store.count().await, 2, "{what}: still no key");
            drop(guard);
        }
    }
}

#[tokio::test]
async fn prune_keeps_revocations_of_keys_it_could_not_read() {
    for layout in layouts() {
        let store = RawStore::new(layout);
        let clock = Arc::new(ManualClock::new(datetime!(2020-01-01 0:00 UTC)));
        let dp = node(&store)
            .clock(clock.clone())
            .background_refresh(false)
            .build()
            .await
            .unwrap();
        let template = own_key(&store).await;
        // Two keys whose XML this node cannot read, long expired, each revoked.
        let bad_date = "ffffffff-0000-0000-0000-000000000001";
        let mut planted = vec![(
            bad_date,
            key_like(
                &template,
                bad_date,
                "2019-01-01T00:00:00+25:00",
                "2019-01-01T00:00:00Z",
                "2019-04-01T00:00:00Z",
            ),
        )];
        if store.keeps_torn_elements_apart() {
            // A torn element (in a single blob it would make the whole document unreadable).
            let torn = "ffffffff-0000-0000-0000-000000000002";
            planted.push((
                torn,
                format!("<key id=\"{torn}\" version=\"1\"><creationDate>"),
            ));
        }
        for (id, xml) in &planted {
            store.plant(&format!("key-{id}"), xml).await;
            let revocation = format!(
                "<revocation version=\"1\"><revocationDate>2019-06-01T00:00:00Z</revocationDate>\
                 <key id=\"{id}\" /><reason>compromised</reason></revocation>"
            );
            store.plant(&format!("revocation-{id}"), &revocation).await;
        }
        clock.set(datetime!(2026-01-01 0:00 UTC));
        dp.refresh().await.unwrap();
        for expired_for in [Duration::ZERO, Duration::MAX] {
            let report = dp.prune(expired_for, false).await.unwrap();
            assert!(
                report.revocations.is_empty(),
                "{layout:?}: {:?}",
                report.revocations
            );
        }
        let texts = store.texts().await;
        for (id, _) in &planted {
            assert!(
                texts
                    .iter()
                    .any(|t| t.contains("<revocation") && t.contains(id)),
                "{layout:?}: the revocation of {id} stays"
            );
        }
    }
}
