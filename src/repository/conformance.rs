//! A conformance suite for [`XmlRepository`] implementations.
//!
//! Every built-in store runs it, and so can yours: call [`run`] from an async test with a
//! fresh, empty store. It panics with a message naming the rule that was broken.

use std::sync::Arc;

use super::{StoreOutcome, XmlRepository};
use crate::xml::XmlElement;

fn element(id: &str, text: &str) -> XmlElement {
    XmlElement::new("key")
        .attr("id", id)
        .attr("version", "1")
        .child(XmlElement::new("creationDate").text("2024-01-01T00:00:00Z"))
        .child(XmlElement::new("note").text(text))
}

async fn read_back(repo: &dyn XmlRepository) -> Vec<(Option<String>, String)> {
    let mut all: Vec<_> = repo
        .get_all_elements()
        .await
        .expect("get_all_elements must succeed")
        .into_iter()
        .map(|e| {
            let parsed = XmlElement::parse(&e.xml).expect("stored elements must read back as XML");
            (e.name, parsed.to_compact_string())
        })
        .collect();
    all.sort();
    all
}

/// Runs every check against `repo`, which must start empty. `can_delete` says whether the
/// store supports [`XmlRepository::delete_elements`].
pub async fn run(repo: Arc<dyn XmlRepository>, can_delete: bool) {
    assert!(
        read_back(&*repo).await.is_empty(),
        "{}: a new store must be empty",
        repo.describe()
    );

    let first = element(
        "11111111-1111-1111-1111-111111111111",
        "first & <escaped> \"text\" ü",
    );
    let outcome = repo
        .store_element(&first, "key-11111111-1111-1111-1111-111111111111")
        .await;
    assert_eq!(outcome.expect("store must succeed"), StoreOutcome::Created);
    let all = read_back(&*repo).await;
    assert_eq!(all.len(), 1, "one element stored, one read");
    assert_eq!(
        all[0].1,
        first.to_compact_string(),
        "content must round-trip exactly"
    );
    if let Some(name) = &all[0].0 {
        assert_eq!(
            name, "key-11111111-1111-1111-1111-111111111111",
            "friendly name kept"
        );
    }

    let imposter = element("11111111-1111-1111-1111-111111111111", "imposter");
    let again = repo
        .store_element(&imposter, "key-11111111-1111-1111-1111-111111111111")
        .await
        .expect("a second store of one name must not error");
    assert_eq!(again, StoreOutcome::AlreadyExists, "never overwrite");
    assert_eq!(
        read_back(&*repo).await[0].1,
        first.to_compact_string(),
        "content unchanged"
    );

    assert!(
        repo.store_element(&first, "../escape").await.is_err(),
        "invalid names must be refused"
    );
    assert!(
        repo.store_element(&first, "").await.is_err(),
        "empty names must be refused"
    );

    // Racing creators of one name: exactly one wins, and the stored content is the winner's.
    let name = "key-22222222-2222-2222-2222-222222222222";
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let repo = repo.clone();
            tokio::spawn(async move {
                let e = element(
                    "22222222-2222-2222-2222-222222222222",
                    &format!("racer {i}"),
                );
                let outcome = repo
                    .store_element(&e, name)
                    .await
                    .expect("racing store must not error");
                (outcome, e.to_compact_string())
            })
        })
        .collect();
    let mut winners = Vec::new();
    for r in racers {
        let (outcome, content) = r.await.expect("racer task");
        if outcome == StoreOutcome::Created {
            winners.push(content);
        }
    }
    assert_eq!(
        winners.len(),
        1,
        "exactly one racer must create the element"
    );
    let all = read_back(&*repo).await;
    assert_eq!(all.len(), 2);
    assert!(
        all.iter().any(|(_, c)| *c == winners[0]),
        "the stored element is the winner's"
    );

    // Real revocations, named as the key manager names them, so that stores which derive
    // names from content (see `element_name`) run the same checks.
    let ids: Vec<String> = (0..50)
        .map(|i| format!("33333333-3333-3333-3333-{i:012}"))
        .collect();
    let many: Vec<String> = ids.iter().map(|id| format!("revocation-{id}")).collect();
    for (id, n) in ids.iter().zip(&many) {
        let r = XmlElement::new("revocation")
            .attr("version", "1")
            .child(XmlElement::new("revocationDate").text("2024-01-01T00:00:00Z"))
            .child(XmlElement::new("key").attr("id", id.clone()))
            .child(XmlElement::new("reason").text(n.clone()));
        assert_eq!(super::element_name(&r).as_deref(), Some(n.as_str()));
        assert_eq!(
            repo.store_element(&r, n).await.expect("store"),
            StoreOutcome::Created
        );
    }
    assert_eq!(read_back(&*repo).await.len(), 52, "every element is read");

    if can_delete {
        repo.delete_elements(&many)
            .await
            .expect("delete must succeed");
        repo.delete_elements(&["revocation-99999999-9999-9999-9999-999999999999".to_owned()])
            .await
            .expect("deleting a missing element is not an error");
        let all = read_back(&*repo).await;
        assert_eq!(all.len(), 2, "deleted elements are gone, others stay");
    } else {
        assert!(
            repo.delete_elements(&many).await.is_err(),
            "a store that cannot delete must say so"
        );
    }
}
