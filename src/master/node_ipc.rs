//! Node's cluster handshake, served on a worker's fd 3. A worker is started
//! with `NODE_UNIQUE_ID` and an IPC channel, so Node makes it a
//! `node:cluster` worker (`cluster.isWorker`, `cluster.worker.id`), as
//! upstream's were. Such a worker asks its primary for every server it
//! `listen()`s on; this answers as Node's round-robin primary does, without
//! ever binding anything: the worker's server "listens" and gets no
//! connections, so workers never take the app's port or socket.

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The fields of Node's internal cluster messages that need an answer.
#[derive(Deserialize)]
struct Message {
    cmd: Option<String>,
    act: Option<String>,
    seq: Option<u64>,
    address: Option<Value>,
    port: Option<i64>,
    #[serde(rename = "addressType")]
    address_type: Option<Value>,
    fd: Option<Value>,
    index: Option<Value>,
}

/// The primary's answer to a worker's message, if it expects one.
fn answer(msg: &Message) -> Option<Value> {
    if msg.cmd.as_deref() != Some("NODE_CLUSTER") {
        return None;
    }
    let seq = msg.seq?;
    match msg.act.as_deref()? {
        "queryServer" => Some(query_server(msg, seq)),
        "exitedAfterDisconnect" => Some(json!({ "cmd": "NODE_CLUSTER", "ack": seq })),
        _ => None,
    }
}

/// A round-robin answer (no handle): Node's worker makes a handle that
/// listens on nothing. `sockname` is what the worker's `server.address()`
/// returns; a pipe has none (the worker reports its path).
fn query_server(msg: &Message, seq: u64) -> Value {
    let text = |v: &Option<Value>| v.as_ref().map(Value::to_string).unwrap_or_default();
    let key = format!(
        "{}:{}:{}:{}:{}",
        text(&msg.address),
        msg.port.unwrap_or(0),
        text(&msg.address_type),
        text(&msg.fd),
        text(&msg.index)
    );
    let mut reply =
        json!({ "cmd": "NODE_CLUSTER", "ack": seq, "errno": null, "key": key, "data": null });
    match msg.address_type.as_ref() {
        // UDP sockets are shared by handing the worker a real socket, which
        // this master does not make: the worker's bind fails clearly.
        Some(Value::String(kind)) if kind.starts_with("udp") => {
            reply["errno"] = json!(-libc::ENOTSUP);
        }
        Some(Value::Number(n)) if n.as_i64() == Some(4) || n.as_i64() == Some(6) => {
            let v6 = n.as_i64() == Some(6);
            let address = match &msg.address {
                Some(Value::String(a)) => a.clone(),
                _ if v6 => "::".to_owned(),
                _ => "0.0.0.0".to_owned(),
            };
            reply["sockname"] = json!({
                "address": address,
                "family": if v6 { "IPv6" } else { "IPv4" },
                "port": msg.port.unwrap_or(0),
            });
        }
        _ => {}
    }
    reply
}

/// Answers worker `worker`'s cluster messages until its channel closes.
pub(crate) async fn serve(stream: std::os::unix::net::UnixStream, worker: u32) {
    let _ = worker;
    if stream.set_nonblocking(true).is_err() {
        return;
    }
    let Ok(stream) = tokio::net::UnixStream::from_std(stream) else {
        return;
    };
    let (reader, mut writer) = stream.into_split();
    let mut lines = BufReader::new(reader).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let Ok(msg) = serde_json::from_str::<Message>(&line) else {
            continue;
        };
        if let Some(reply) = answer(&msg) {
            let mut bytes = reply.to_string().into_bytes();
            bytes.push(b'\n');
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Message {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_tcp_listen_is_acknowledged_round_robin_style_with_its_port() {
        let reply = answer(&parse(
            r#"{"cmd":"NODE_CLUSTER","act":"queryServer","seq":4,"address":null,"port":3008,"addressType":4,"fd":null,"index":0}"#,
        ))
        .unwrap();
        assert_eq!(reply["ack"], 4);
        assert_eq!(reply["errno"], Value::Null);
        assert_eq!(reply["sockname"]["port"], 3008);
        assert_eq!(reply["sockname"]["family"], "IPv4");
        assert!(reply.get("handle").is_none());
    }

    #[test]
    fn a_unix_socket_listen_is_acknowledged_without_a_sockname() {
        let reply = answer(&parse(
            r#"{"cmd":"NODE_CLUSTER","act":"queryServer","seq":1,"address":"/tmp/app.sock.1.sock","port":-1,"addressType":-1,"index":0}"#,
        ))
        .unwrap();
        assert_eq!(reply["errno"], Value::Null);
        assert!(reply.get("sockname").is_none());
    }

    #[test]
    fn udp_binds_are_refused_and_other_messages_need_no_answer() {
        let reply = answer(&parse(
            r#"{"cmd":"NODE_CLUSTER","act":"queryServer","seq":2,"address":"0.0.0.0","port":5000,"addressType":"udp4"}"#,
        ))
        .unwrap();
        assert_eq!(reply["errno"], -libc::ENOTSUP);
        assert!(answer(&parse(r#"{"cmd":"NODE_CLUSTER","act":"online","seq":0}"#)).is_none());
        assert!(answer(&parse(r#"{"hello":"app message"}"#)).is_none());
    }
}
