//! `pitcher cleanup component/config ...`: remove a flow's queue (AMQP) or end its persistent
//! sessions (MQTT) and forget its saved queue name. Exchanges are shared and never deleted.

use anyhow::Context;
use pitcher_broker::amqp::delete_queue;
use pitcher_broker::mqtt::delete_session;

use super::load_flows;
use crate::brokers::{consumer_endpoint, consumes, timeout};
use crate::cli::Cli;
use crate::state::{forget_queue_name, settle_queue_name};

pub fn run(cli: &Cli, args: &[String]) -> anyhow::Result<()> {
    let flows = load_flows(cli, args)?;
    let rt = super::runtime()?;
    for mut flow in flows {
        let id = flow.id();
        if !consumes(&flow) {
            println!("{id}: no queue to remove");
            continue;
        }
        let Some(broker) = consumer_endpoint(&flow)? else {
            println!("{id}: no broker, nothing to remove");
            continue;
        };
        let queue = settle_queue_name(&mut flow)?.context("no queue name")?;
        let t = timeout(&flow);
        if broker.protocol.is_amqp() {
            let left = rt
                .block_on(delete_queue(&broker, &queue, t))
                .with_context(|| format!("cleanup {id}"))?;
            println!("removed queue {queue} from {broker} ({left} messages were waiting in it)");
        } else {
            for i in 1..=flow.options.instances.clamp(1, 99) {
                let client_id = format!("{queue}_i{i:02}");
                rt.block_on(delete_session(&broker, &client_id, t))
                    .with_context(|| format!("cleanup {id}"))?;
                println!("ended session {client_id} on {broker}");
            }
        }
        forget_queue_name(&flow)?;
    }
    Ok(())
}
