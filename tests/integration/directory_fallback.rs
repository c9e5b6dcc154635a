//! The directory store where hard links are not supported (some SMB mounts, FAT): writes
//! still never show a partial file and never overwrite, and racing writers create once.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use data_protection::repository::{DirectoryRepository, StoreOutcome, XmlRepository, conformance};
use data_protection::xml::XmlElement;

fn big_element(tag: &str) -> XmlElement {
    // Large enough that writing it takes long enough for a reader to catch it half-written.
    XmlElement::parse(&format!(
        "<key id='0f8fad5b-d9cb-469f-a165-70867728950e'><filler>{}</filler></key>",
        tag.repeat(16_000_000)
    ))
    .unwrap()
}

#[tokio::test]
async fn without_hard_links_the_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let repo = DirectoryRepository::new(dir.path().join("keys")).without_hard_links();
    conformance::run(Arc::new(repo), true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_hard_links_readers_see_whole_files_and_one_writer_wins() {
    let dir = tempfile::tempdir().unwrap();
    let repo = Arc::new(DirectoryRepository::new(dir.path()).without_hard_links());
    let stop = Arc::new(AtomicBool::new(false));
    // A reader thread polls the final name the whole time; whatever it sees must be a whole
    // element.
    let reader = {
        let (path, stop) = (dir.path().join("key-race.xml"), stop.clone());
        std::thread::spawn(move || {
            let mut reads = 0u32;
            while !stop.load(Ordering::SeqCst) {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    assert!(
                        text.trim_end().ends_with("</key>"),
                        "a reader saw a partial file ({} bytes)",
                        text.len()
                    );
                    reads += 1;
                }
            }
            reads
        })
    };
    let mut writers = tokio::task::JoinSet::new();
    for i in 0..4 {
        let repo = repo.clone();
        writers.spawn(async move {
            let tag = ["a", "b", "c", "d"][i];
            let outcome = repo
                .store_element(&big_element(tag), "key-race")
                .await
                .unwrap();
            (tag, outcome)
        });
    }
    let mut winners = Vec::new();
    while let Some(done) = writers.join_next().await {
        let (tag, outcome) = done.unwrap();
        if outcome == StoreOutcome::Created {
            winners.push(tag);
        }
    }
    stop.store(true, Ordering::SeqCst);
    let reads = reader.join().unwrap();
    assert_eq!(winners.len(), 1, "exactly one writer creates: {winners:?}");
    let stored = repo.get_all_elements().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert!(
        stored[0].xml.contains(&format!("<filler>{}", winners[0])),
        "the winner's content is what is stored"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| !n.ends_with(".xml"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "no temporary or claim files left: {leftovers:?}"
    );
    println!("reader read the file {reads} times while 4 writers raced");
}

#[tokio::test]
async fn a_claim_left_by_a_dead_writer_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let repo = DirectoryRepository::new(dir.path()).without_hard_links();
    let claim = dir.path().join("key-x.xml.claim");
    let file = std::fs::File::create(&claim).unwrap();
    file.set_modified(SystemTime::now() - Duration::from_secs(120))
        .unwrap();
    drop(file);
    let outcome = repo
        .store_element(&XmlElement::parse("<key/>").unwrap(), "key-x")
        .await
        .unwrap();
    assert_eq!(outcome, StoreOutcome::Created);
    assert!(!claim.exists());
    assert!(dir.path().join("key-x.xml").exists());
}
