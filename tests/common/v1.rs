//! The operator API's form of a cluster, made from a `/master/state` document, so that
//! tests can serve one cluster both ways (shapes: docs/spec/operator-api.md §4-§6).

use serde_json::{Value, json};

/// One RecordIO record.
pub fn record(event: &Value) -> Vec<u8> {
    let data = serde_json::to_vec(event).unwrap();
    let mut out = format!("{}\n", data.len()).into_bytes();
    out.extend(data);
    out
}

/// `SUBSCRIBED` then `HEARTBEAT`, as a master starts a stream.
pub fn stream_of(state: &Value) -> Vec<u8> {
    let mut out = record(&subscribed(state, 15.0));
    out.extend(record(&json!({"type":"HEARTBEAT"})));
    out
}

/// The `SUBSCRIBED` event of a `/master/state` document.
pub fn subscribed(state: &Value, heartbeat_seconds: f64) -> Value {
    let empty = Vec::new();
    let frameworks = state["frameworks"].as_array().unwrap_or(&empty);
    let mut tasks = Vec::new();
    for f in frameworks {
        for t in f["tasks"].as_array().unwrap_or(&empty) {
            tasks.push(task(t, f["id"].as_str().unwrap_or("")));
        }
    }
    json!({"type":"SUBSCRIBED","subscribed":{
        "get_state":{
            "get_tasks":{"tasks":tasks,"unreachable_tasks":[],"completed_tasks":[]},
            "get_executors":{"executors":[]},
            "get_frameworks":{"frameworks":frameworks.iter().map(framework).collect::<Vec<_>>(),
                              "completed_frameworks":[]},
            "get_agents":{"agents":state["slaves"].as_array().unwrap_or(&empty).iter().map(agent).collect::<Vec<_>>(),
                          "recovered_agents":[]}},
        "heartbeat_interval_seconds":heartbeat_seconds}})
}

pub fn framework(f: &Value) -> Value {
    let mut info = json!({"user":"root","name":f["name"],"id":{"value":f["id"]},
                          "failover_timeout":0.0,"checkpoint":false});
    if let Some(h) = f.get("hostname") {
        info["hostname"] = h.clone();
    }
    json!({"framework_info":info,"active":true,"connected":true,"recovered":false})
}

pub fn agent(a: &Value) -> Value {
    json!({"agent_info":{"hostname":a["hostname"],"port":5051,"id":{"value":a["id"]}},
           "active":true,"deactivated":false,"version":"1.11.0","pid":a["pid"]})
}

/// `AGENT_ADDED` of a `/master/state` agent.
pub fn agent_added(a: &Value) -> Value {
    json!({"type":"AGENT_ADDED","agent_added":{"agent":agent(a)}})
}

/// `TASK_ADDED` of a `/master/state` task of framework `framework_id`.
pub fn task_added(t: &Value, framework_id: &str) -> Value {
    json!({"type":"TASK_ADDED","task_added":{"task":task(t, framework_id)}})
}

/// A `/master/state` task in the operator API's shape. Port ranges are spread over two
/// resources (a task may hold ports of several reservations), in reverse order.
pub fn task(t: &Value, framework_id: &str) -> Value {
    let mut ranges: Vec<Value> = t["resources"]["ports"]
        .as_str()
        .unwrap_or("")
        .trim_matches(|c| c == '[' || c == ']')
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| {
            let (lo, hi) = p.trim().split_once('-').unwrap();
            json!({"begin": lo.trim().parse::<u64>().unwrap(), "end": hi.trim().parse::<u64>().unwrap()})
        })
        .collect();
    ranges.reverse();
    let mut resources = vec![json!({"name":"cpus","type":"SCALAR","scalar":{"value":0.5}})];
    let half = ranges.len() / 2;
    for part in [&ranges[..half], &ranges[half..]] {
        if !part.is_empty() {
            resources.push(
                json!({"name":"ports","type":"RANGES","ranges":{"range":part},
                                  "allocation_info":{"role":"*"}}),
            );
        }
    }
    let statuses: Vec<Value> = t["statuses"]
        .as_array()
        .map(|list| list.iter().map(|s| status(s, t)).collect())
        .unwrap_or_default();
    let mut out = json!({"name":t["name"],"task_id":{"value":t["id"]},"framework_id":{"value":framework_id},
        "agent_id":{"value":t["slave_id"]},"state":t["state"],"resources":resources});
    if !statuses.is_empty() {
        out["statuses"] = Value::Array(statuses);
    }
    if let Some(d) = t.get("discovery") {
        out["discovery"] = d.clone();
    }
    if let Some(labels) = t.get("labels") {
        out["labels"] = json!({"labels": labels});
    }
    if let Some(c) = t.get("container") {
        out["container"] = c.clone();
    }
    out
}

fn status(s: &Value, t: &Value) -> Value {
    let mut out = json!({"task_id":{"value":t["id"]},"state":s["state"],"source":"SOURCE_EXECUTOR",
                         "agent_id":{"value":t["slave_id"]},"timestamp":s["timestamp"]});
    if let Some(labels) = s.get("labels") {
        out["labels"] = json!({"labels": labels});
    }
    if let Some(c) = s.get("container_status") {
        out["container_status"] = c.clone();
    }
    out
}
