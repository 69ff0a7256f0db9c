//! An embedded Kafka-protocol broker for the demo: librdkafka's in-process mock cluster with
//! the seven board topics, listening on a local TCP port like any broker.

use crate::event::reference::{boards, topic_of_board};
use rdkafka::error::KafkaError;
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// A running in-process broker; stops when dropped.
pub struct EmbeddedBroker {
    cluster: MockCluster<'static, DefaultProducerContext>,
}

impl EmbeddedBroker {
    /// Start a one-broker cluster with a single-partition topic per board.
    pub fn start() -> Result<EmbeddedBroker, KafkaError> {
        let cluster = MockCluster::new(1)?;
        for b in boards() {
            cluster.create_topic(&topic_of_board(&b.ods), 1, 1)?;
        }
        Ok(EmbeddedBroker { cluster })
    }

    /// `host:port` to give clients as bootstrap servers.
    pub fn bootstrap_servers(&self) -> String {
        self.cluster.bootstrap_servers()
    }
}
