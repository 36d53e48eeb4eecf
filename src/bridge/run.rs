//! Starting and stopping a bridge: the spool opened, the listener and the drainer running.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::sync::{Notify, oneshot, watch};
use tokio::task::JoinHandle;

use super::config::{Mqtt, Settings};
use super::drain::{DrainTarget, drain};
use super::http::{HttpState, expected_authorization, router};
use super::receiver::Receiver;
use super::sink::Sink;
use super::spool::Spool;
use crate::client::{Connect, Timestream};
use crate::error::{Error, Result};
use crate::listener::ConnectionLimits;
use rumqttc::MqttOptions;

/// A running bridge (on the current tokio runtime).
#[derive(Debug)]
pub struct Bridge {
    local_addr: SocketAddr,
    receiver: Arc<Receiver>,
    stop_listener: Option<oneshot::Sender<()>>,
    stop_inputs: watch::Sender<bool>,
    stop_drain: watch::Sender<bool>,
    listener: Option<JoinHandle<()>>,
    subscribers: Vec<JoinHandle<()>>,
    drainer: Option<JoinHandle<()>>,
}

/// Every broker's connection options (its TLS files read and checked), before anything starts.
fn mqtt_options(settings: &Settings) -> Result<Vec<(Mqtt, MqttOptions)>> {
    settings.mqtt.iter().map(|m| super::mqtt::options(m).map(|o| (m.clone(), o))).collect()
}

impl Bridge {
    /// Opens the spool, connects the client to the endpoint of `settings` (or AWS) and starts
    /// listening and draining.
    pub async fn start(settings: Settings) -> Result<Self> {
        // The brokers' TLS files are read and checked before the connection (AWS's endpoint
        // discovery), once.
        let mqtt = mqtt_options(&settings)?;
        let connect = Connect {
            endpoint_url: settings.endpoint_url.clone(),
            region: settings.region.clone(),
            ca_file: settings.ca_file.clone(),
            ..Connect::default()
        };
        let ts = Timestream::connect(&connect).await?;
        Self::start_on(settings, Sink::Client(ts), mqtt).await
    }

    /// Opens the spool and starts listening and draining into `sink` (the endpoint settings
    /// are not used): [`Sink::Engine`] writes into an engine of this process, as
    /// `ruuvistream serve --bridge` does.
    pub async fn start_with(settings: Settings, sink: Sink) -> Result<Self> {
        let mqtt = mqtt_options(&settings)?;
        Self::start_on(settings, sink, mqtt).await
    }

    async fn start_on(settings: Settings, sink: Sink, mqtt_options: Vec<(Mqtt, MqttOptions)>) -> Result<Self> {
        let spool = {
            let (dir, max) = (settings.spool_dir.clone(), settings.spool_max_bytes);
            tokio::task::spawn_blocking(move || Spool::open(&dir, max))
                .await
                .map_err(|e| Error::Io(std::io::Error::other(e)))??
        };
        let receiver = Arc::new(Receiver::new(&settings, spool));
        if settings.create {
            // Now if Timestream is there, else when the first write finds them missing.
            if let Err(e) = sink.create(&settings.database, &settings.table).await {
                eprintln!(
                    "bridge: cannot create {}.{} yet ({e}); the spool keeps the readings",
                    settings.database, settings.table
                );
            }
        }
        let tcp = tokio::net::TcpListener::bind(&settings.listen).await.map_err(|e| {
            Error::Io(std::io::Error::new(e.kind(), format!("cannot listen on {}: {e}", settings.listen)))
        })?;
        let local_addr = tcp.local_addr()?;
        let limits = ConnectionLimits::default();
        let wake = Arc::new(Notify::new());
        let state = Arc::new(HttpState {
            receiver: receiver.clone(),
            authorization: expected_authorization(&settings.auth),
            wake: wake.clone(),
            body_timeout: limits.body_timeout,
        });
        let (stop_listener, stopped) = oneshot::channel();
        let listener = tokio::spawn(crate::listener::serve(tcp, router(state), limits, None, stopped));
        let (stop_inputs, inputs_stopped) = watch::channel(false);
        let subscribers: Vec<JoinHandle<()>> = mqtt_options
            .into_iter()
            .map(|(mqtt, options)| {
                let task =
                    super::mqtt::subscribe(receiver.clone(), mqtt, options, wake.clone(), inputs_stopped.clone());
                tokio::spawn(task)
            })
            .collect();
        let mut subscribers: Vec<JoinHandle<()>> = subscribers;
        for poll in settings.polls.iter().cloned() {
            let task = super::poll::poll(receiver.clone(), poll, wake.clone(), inputs_stopped.clone());
            subscribers.push(tokio::spawn(task));
        }
        let (stop_drain, drain_stopped) = watch::channel(false);
        let target =
            DrainTarget { create: settings.create, dead_letters: settings.spool_dir.join("dead-letters.jsonl") };
        let drainer = tokio::spawn(drain(receiver.clone(), sink, target, wake, drain_stopped));
        Ok(Self {
            local_addr,
            receiver,
            stop_listener: Some(stop_listener),
            stop_inputs,
            stop_drain,
            listener: Some(listener),
            subscribers,
            drainer: Some(drainer),
        })
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// `http://host:port/`, the URL to give a Gateway.
    pub fn url(&self) -> String {
        format!("http://{}/", self.local_addr)
    }

    /// The receiving half (its spool and counters).
    pub fn receiver(&self) -> &Arc<Receiver> {
        &self.receiver
    }

    /// Stops taking messages (those in flight are answered; MQTT messages not yet spooled
    /// stay with the broker), then lets the drainer finish the step it is in. What is still in
    /// the spool is written at the next start.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop_listener.take() {
            let _ = stop.send(());
        }
        let _ = self.stop_inputs.send(true);
        if let Some(listener) = self.listener.take() {
            let _ = listener.await;
        }
        for subscriber in self.subscribers.drain(..) {
            let _ = subscriber.await;
        }
        let _ = self.stop_drain.send(true);
        if let Some(drainer) = self.drainer.take() {
            let _ = drainer.await;
        }
    }
}
