//! The store conformance suite, URL forms, `repository::open`, and changes by other writers.

use std::sync::Arc;

use data_protection::repository::{self, PostgresRepository, XmlRepository, conformance};
use data_protection::{Error, StoreErrorKind};

use super::{drop_schema, raw, repo, schema, url};

#[tokio::test]
async fn conforms_in_its_own_schema() {
    let s = schema();
    conformance::run(Arc::new(repo(&s, "DataProtectionKeys")), true).await;
    drop_schema(&s).await;
}

#[tokio::test]
async fn open_reads_table_and_schema_from_the_url() {
    let s = schema();
    let u = format!("{}&schema={s}&table=Ring%20Keys", url());
    let store = repository::open(&u).expect("open postgres://");
    assert_eq!(store.kind(), "postgres");
    let text = store.describe();
    assert!(text.contains(&format!("\"{s}\".\"Ring Keys\"")), "{text}");
    assert!(
        !text.contains(&crate::backends::env("PG_PASSWORD")),
        "{text}"
    );
    conformance::run(store, true).await;
    let n: i64 = raw(&url())
        .await
        .query_one(&format!("SELECT count(*) FROM \"{s}\".\"Ring Keys\""), &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 2, "the suite's two keys are rows of the named table");
    drop_schema(&s).await;
}

#[tokio::test]
async fn rows_written_updated_or_deleted_by_others_are_seen_on_the_next_read() {
    let s = schema();
    let store = repo(&s, "DataProtectionKeys");
    assert!(store.get_all_elements().await.unwrap().is_empty());
    let client = raw(&url()).await;
    let t = format!("\"{s}\".\"DataProtectionKeys\"");
    let key = |id: &str, note: &str| {
        format!(
            "<key id=\"{id}\" version=\"1\"><creationDate>2024-01-01T00:00:00Z</creationDate><note>{note}</note></key>"
        )
    };
    let a = "aaaaaaaa-0000-0000-0000-000000000001";
    client
        .execute(
            &format!("INSERT INTO {t} (\"FriendlyName\", \"Xml\") VALUES ($1, $2)"),
            &[&format!("key-{a}"), &key(a, "one")],
        )
        .await
        .unwrap();
    let all = store.get_all_elements().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name.as_deref(), Some(format!("key-{a}").as_str()));
    // The same read again: the fingerprint matches, the cached elements come back.
    assert_eq!(store.get_all_elements().await.unwrap(), all);
    // An update in place changes the row version, so it is seen.
    client
        .execute(&format!("UPDATE {t} SET \"Xml\" = $1"), &[&key(a, "two")])
        .await
        .unwrap();
    let all = store.get_all_elements().await.unwrap();
    assert!(all[0].xml.contains("two"), "{:?}", all[0].xml.as_str());
    // A delete and an insert that keep the row count are seen.
    client
        .batch_execute(&format!(
            "DELETE FROM {t}; INSERT INTO {t} (\"FriendlyName\", \"Xml\") VALUES (NULL, '{}')",
            key("bbbbbbbb-0000-0000-0000-000000000002", "three")
        ))
        .await
        .unwrap();
    let all = store.get_all_elements().await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        all[0].name.as_deref(),
        Some("key-bbbbbbbb-0000-0000-0000-000000000002"),
        "a row without a friendly name gets the derived one"
    );
    // Rows without XML are skipped, as .NET skips them.
    client
        .batch_execute(&format!(
            "INSERT INTO {t} (\"FriendlyName\", \"Xml\") VALUES ('key-x', NULL), ('key-y', '')"
        ))
        .await
        .unwrap();
    assert_eq!(store.get_all_elements().await.unwrap().len(), 1);
    drop_schema(&s).await;
}

#[tokio::test]
async fn a_missing_table_is_an_error_when_creating_is_off() {
    let s = schema();
    let store = PostgresRepository::builder(format!("{}&create_table=false", url()))
        .schema(&s)
        .build()
        .unwrap();
    let err = store.get_all_elements().await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Other);
    assert!(
        err.to_string().contains("CREATE TABLE"),
        "shows the DDL: {err}"
    );
    let exists: bool = raw(&url())
        .await
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("\"{s}\".\"DataProtectionKeys\"")],
        )
        .await
        .unwrap()
        .get(0);
    assert!(!exists, "nothing was created");
}

#[tokio::test]
async fn a_wrong_password_is_denied_and_not_printed() {
    let port = crate::backends::env("PG_PORT");
    let store = PostgresRepository::from_url(&format!(
        "postgres://postgres:not-the-password-x1@127.0.0.1:{port}/postgres?sslmode=disable"
    ))
    .unwrap();
    let err = store.get_all_elements().await.unwrap_err();
    assert_eq!(err.kind(), StoreErrorKind::Denied, "{err}");
    let text = format!("{err} {err:?} {store:?}");
    assert!(!text.contains("not-the-password-x1"), "{text}");
    let e = Error::from(err);
    assert!(!format!("{e:?}").contains("not-the-password-x1"));
}
