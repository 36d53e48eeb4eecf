//! The MQTT input: subscribes to a broker (TCP or TLS, with a user name and password) at QoS 1
//! and acknowledges each message only once its records are spooled, so that the broker sends
//! again whatever the bridge did not take (its session is kept under the client id).

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use tokio::sync::{Notify, watch};

use super::config::Mqtt;
use super::log::ProblemLog;
use super::receiver::{Receiver, Refused};
use crate::error::{Error, Result};

/// The longest wait between two connection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The client's settings for `mqtt`: its TLS configuration is built here, so that a bad CA
/// file stops the bridge at start with what is wrong.
pub fn options(mqtt: &Mqtt) -> Result<MqttOptions> {
    let mut options = MqttOptions::new(&mqtt.client_id, &mqtt.host, mqtt.port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_manual_acks(true)
        .set_clean_session(false)
        .set_max_packet_size(1 << 20, 1 << 20);
    if let Some((user, password)) = &mqtt.credentials {
        options.set_credentials(user, password);
    }
    if mqtt.tls {
        options.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls_config(mqtt)?))));
    }
    Ok(options)
}

fn tls_config(mqtt: &Mqtt) -> Result<rustls::ClientConfig> {
    let roots = match &mqtt.ca {
        Some(path) => {
            crate::certs::TrustedCas::load(path)
                .map_err(|e| {
                    Error::InvalidArgument(format!(
                        "[[mqtt]] {:?}: cannot read the CA {}: {e}",
                        mqtt.url,
                        path.display()
                    ))
                })?
                .roots
        }
        None => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            roots
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::InvalidArgument(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Subscribes to `mqtt` and takes its messages until `stop` turns true, reconnecting (with
/// backoff) whenever the connection is lost.
pub async fn subscribe(
    receiver: Arc<Receiver>,
    mqtt: Mqtt,
    options: MqttOptions,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let (client, mut events) = AsyncClient::new(options, 64);
    let mut backoff = Duration::from_millis(200);
    let mut log = ProblemLog::default();
    loop {
        let event = tokio::select! {
            _ = stop.changed() => break,
            event = events.poll() => event,
        };
        match event {
            Ok(Event::Incoming(Packet::ConnAck(_))) => {
                backoff = Duration::from_millis(200);
                log.clear();
                let topics = mqtt.topics.iter().map(|t| rumqttc::SubscribeFilter::new(t.clone(), QoS::AtLeastOnce));
                if let Err(e) = client.try_subscribe_many(topics) {
                    log.say(format!("{}: cannot subscribe: {e}", mqtt.url));
                }
            }
            Ok(Event::Incoming(Packet::SubAck(ack))) => {
                if ack.return_codes.iter().any(|c| matches!(c, rumqttc::SubscribeReasonCode::Failure)) {
                    log.say(format!("{}: the broker refused a subscription to {:?}", mqtt.url, mqtt.topics));
                }
            }
            Ok(Event::Incoming(Packet::Publish(publish))) => {
                let now = crate::units::now_ns();
                let (r, m) = (receiver.clone(), mqtt.clone());
                let (topic, payload) = (publish.topic.clone(), publish.payload.clone());
                let taken = tokio::task::spawn_blocking(move || r.receive_mqtt(&m, &topic, &payload, now)).await;
                let ack = match taken {
                    Ok(Ok(accepted)) => {
                        if accepted.records > 0 {
                            wake.notify_one();
                        }
                        true
                    }
                    // A message that cannot be read now never can: acknowledged, so that the
                    // broker does not send it forever (it is counted, and logged).
                    Ok(Err(Refused::Unreadable(why))) => {
                        log.say(format!("{}: a message on {} was not readable: {why}", mqtt.url, publish.topic));
                        true
                    }
                    // Not spooled: left unacknowledged, the broker sends it again.
                    Ok(Err(Refused::Spool(e))) => {
                        log.say(format!("{}: {e}", mqtt.url));
                        false
                    }
                    Err(e) => {
                        log.say(format!("{}: {e}", mqtt.url));
                        false
                    }
                };
                if ack && let Err(e) = client.try_ack(&publish) {
                    log.say(format!("{}: cannot acknowledge a message: {e}", mqtt.url));
                }
            }
            Ok(_) => {}
            Err(e) => {
                log.say(format!("{}: {e}; connecting again", mqtt.url));
                tokio::select! {
                    _ = stop.changed() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
    let _ = client.try_disconnect();
    // Let the disconnect go out.
    let _ = tokio::time::timeout(Duration::from_secs(1), events.poll()).await;
}
