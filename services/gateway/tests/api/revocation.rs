//! Revocation: the tokens of deleted accounts (`user.deleted` on a real RabbitMQ).

use crate::helpers::*;

/// Publishes `user.deleted` for `user` on `amqp_url` as the user service's outbox relay does:
/// `mandatory`, with publisher confirms, and again while it comes back unroutable (no gateway
/// has bound its queue yet).
async fn publish_user_deleted(amqp_url: &str, user: &str) {
    use kit::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
    use kit::amqp::lapin::BasicProperties;
    let connection = kit::amqp::connect(amqp_url, "test publisher").await;
    let channel = connection.create_channel().await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    kit::amqp::declare_events_exchange(&channel).await.unwrap();
    let id = uuid::Uuid::new_v4().to_string();
    let body = json!({"id": id, "type": "user.deleted", "version": 1,
                      "occurred_at": "2026-11-30T12:00:00.000Z", "data": {"user_id": user}})
    .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let properties = BasicProperties::default()
            .with_message_id(id.as_str().into())
            .with_type("user.deleted".into())
            .with_content_type("application/json".into())
            .with_headers(kit::amqp::string_headers([
                ("event_id", id.as_str()),
                ("event_type", "user.deleted"),
                ("version", "1"),
            ]));
        let confirmation = channel
            .basic_publish(
                kit::amqp::EVENTS_EXCHANGE.into(),
                "user.deleted".into(),
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body.as_bytes(),
                properties,
            )
            .await
            .unwrap()
            .await
            .unwrap();
        if confirmation.is_ack() && confirmation.take_message().is_none() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no gateway bound a queue to user.deleted within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = connection.close(200, "done".into()).await;
}

#[tokio::test]
async fn the_tokens_of_a_deleted_account_are_refused() {
    let amqp_url = testkit::fresh_vhost().await;
    let s = stack_with(json!({}), Some(&amqp_url)).await;
    let token = user_token();
    let other = sign(OTHER_USER, &["user"], "k1", &keys().main, json!({}));
    assert_eq!(
        echoed(s.get("/orders", Some(&token)).await).await["identity"]["sub"],
        USER
    );
    assert_eq!(
        s.send("POST", "/orders", Some(&token)).await.status(),
        StatusCode::OK
    );

    publish_user_deleted(&amqp_url, USER).await;
    // Within a few seconds the same token is refused on protected routes...
    let deadline = Instant::now() + Duration::from_secs(5);
    let refused = loop {
        let r = s.send("POST", "/orders", Some(&token)).await;
        if r.status() == StatusCode::UNAUTHORIZED {
            break r;
        }
        assert_eq!(r.status(), StatusCode::OK);
        assert!(
            Instant::now() < deadline,
            "the deleted account's token still works 5 s after user.deleted"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        refused.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let body = problem(refused, 401).await;
    assert_eq!(body["detail"], "the account no longer exists");
    let hits = s.orders.hits();
    problem(s.get("/orders", Some(&token)).await, 401).await;
    problem(s.get("/users/me", Some(&token)).await, 401).await;
    assert_eq!(s.orders.hits(), hits, "nothing of it reaches the upstream");
    // ...and ignored on public ones (the request goes through anonymously).
    let e = echoed(s.get("/products", Some(&token)).await).await;
    assert_eq!(e["identity"], Value::Null);
    // Another account's token still works.
    let e = echoed(s.send("POST", "/orders", Some(&other)).await).await;
    assert_eq!(e["identity"]["sub"], OTHER_USER);

    let metrics = s.metrics().await;
    assert!(
        metric_line(
            &metrics,
            "gateway_auth_rejections_total{reason=\"revoked\"}"
        )
        .is_some(),
        "{metrics}"
    );
    assert_eq!(
        metric_line(&metrics, "gateway_revoked_subjects"),
        Some("gateway_revoked_subjects 1")
    );
    assert_eq!(
        metric_line(
            &metrics,
            "gateway_revocation_events_total{result=\"revoked\"}"
        ),
        Some("gateway_revocation_events_total{result=\"revoked\"} 1")
    );
}

#[tokio::test]
async fn revocations_end_with_the_longest_token_lifetime() {
    let amqp_url = testkit::fresh_vhost().await;
    let s = stack_with(json!({"auth": {"revocation_ttl_secs": 1}}), Some(&amqp_url)).await;
    let token = user_token();
    publish_user_deleted(&amqp_url, USER).await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while s.get("/orders", Some(&token)).await.status() != StatusCode::UNAUTHORIZED {
        assert!(Instant::now() < deadline, "never refused");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // After the TTL the entry is pruned (a token issued before the deletion has expired by
    // then in production; this one is made to last).
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        echoed(s.get("/orders", Some(&token)).await).await["identity"]["sub"],
        USER
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let metrics = s.metrics().await;
        if metric_line(&metrics, "gateway_revoked_subjects") == Some("gateway_revoked_subjects 0") {
            break;
        }
        assert!(Instant::now() < deadline, "not pruned: {metrics}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
