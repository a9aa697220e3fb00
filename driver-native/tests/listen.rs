//! LISTEN/NOTIFY through the reconnecting stream.

mod common;

use std::time::Duration;

use common::{observer, stmt, tagged};
use futures_util::StreamExt;
use keel_native::{Driver, ListenEvent, Listener, Notification, Value};
use keel_testkit::database_url;

async fn next(listener: &mut Listener) -> ListenEvent {
    tokio::time::timeout(Duration::from_secs(30), listener.next())
        .await
        .expect("no event within 30 s")
        .expect("the listener stream ended")
}

#[tokio::test]
async fn notifications_arrive_and_survive_a_killed_connection() {
    let Some(url) = database_url() else { return };
    let app = "keel_listen";
    let mut listener = Listener::listen(&tagged(&url, app), &["keel_jobs", "keel \"odd\" name"])
        .await
        .unwrap();
    let notifier = observer(&url).await;
    let notify = |channel: &str, payload: &str| {
        stmt(
            "SELECT pg_notify($1, $2)",
            vec![Value::Text(channel.into()), Value::Text(payload.into())],
            &["pg_notify"],
        )
    };
    notifier.query(&notify("keel_jobs", "first")).await.unwrap();
    notifier
        .query(&notify("keel \"odd\" name", "second"))
        .await
        .unwrap();
    notifier.query(&notify("not_listened", "x")).await.unwrap();
    let events = [next(&mut listener).await, next(&mut listener).await];
    let payloads: Vec<(String, String)> = events
        .iter()
        .map(|e| match e {
            ListenEvent::Notification(Notification {
                channel, payload, ..
            }) => (channel.clone(), payload.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        payloads,
        [
            ("keel_jobs".to_owned(), "first".to_owned()),
            ("keel \"odd\" name".to_owned(), "second".to_owned())
        ]
    );

    let killed = notifier
        .query(&stmt(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            vec![Value::Text(app.into())],
            &["pg_terminate_backend"],
        ))
        .await
        .unwrap();
    assert_eq!(killed.len(), 1);
    assert_eq!(next(&mut listener).await, ListenEvent::Reconnected);
    notifier.query(&notify("keel_jobs", "after")).await.unwrap();
    match next(&mut listener).await {
        ListenEvent::Notification(n) => {
            assert_eq!(
                (n.channel.as_str(), n.payload.as_str()),
                ("keel_jobs", "after")
            )
        }
        other => panic!("unexpected {other:?}"),
    }
}
