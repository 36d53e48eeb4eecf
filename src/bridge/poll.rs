//! Polling Ruuvi Gateways' `GET /history` (with their bearer token), for Gateways that are not
//! set to send: each answer is taken like a POST, and repeats of what an earlier poll brought
//! are dropped by their sequence numbers (and Timestream keeps one copy of the rest).

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use tokio::sync::{Notify, watch};

use super::config::Poll;
use super::fetch::Connection;
use super::log::ProblemLog;
use super::receiver::{Input, Receiver};

/// Polls `poll` every interval until `stop` turns true.
pub async fn poll(receiver: Arc<Receiver>, poll: Poll, wake: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    let (mut connection, uri) = match Connection::new(&poll.url, "[[poll]] url") {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bridge: {e}");
            return;
        }
    };
    let mut ticker = tokio::time::interval(poll.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut log = ProblemLog::default();
    loop {
        tokio::select! {
            _ = stop.changed() => break,
            _ = ticker.tick() => {}
        }
        let make = || {
            let mut request = Request::get(Connection::target(&uri));
            if let Some(host) = uri.authority() {
                request = request.header("host", host.as_str());
            }
            if let Some(token) = &poll.token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            request.body(Body::empty()).expect("a valid request")
        };
        let answer = tokio::select! {
            _ = stop.changed() => break,
            answer = tokio::time::timeout(poll.interval.max(std::time::Duration::from_secs(10)), connection.send(make)) => answer,
        };
        let body = match answer {
            Ok(Ok((status, body))) if status.is_success() => body,
            Ok(Ok((status, body))) => {
                let text = String::from_utf8_lossy(&body);
                log.say(format!("polling {}: the Gateway answered {status}: {}", poll.url, text.trim()));
                continue;
            }
            Ok(Err(e)) => {
                log.say(format!("polling {}: {e}", poll.url));
                continue;
            }
            Err(_) => {
                log.say(format!("polling {}: no answer in time", poll.url));
                continue;
            }
        };
        let r = receiver.clone();
        let now = crate::units::now_ns();
        match tokio::task::spawn_blocking(move || r.receive(Input::GatewayHistory, &body, now)).await {
            Ok(Ok(accepted)) => {
                if accepted.records > 0 {
                    wake.notify_one();
                }
                log.clear();
            }
            Ok(Err(e)) => log.say(format!("polling {}: {e}", poll.url)),
            Err(e) => log.say(format!("polling {}: {e}", poll.url)),
        }
    }
}
