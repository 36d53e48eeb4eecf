//! Ruuvi Gateway JSON in every firmware variant (reference notes §10).

use ruuvistream::GatewayError;
use ruuvistream::ruuvi::gateway::{decode_json, parse_documents, parse_message};

const ADV: &str = "0201061BFF99040513C85714C7CC00240008041CAB76F41C3CC6A5B9E0AD06";

#[test]
fn http_post_body_current_firmware() {
    let body = format!(
        r#"{{"data": {{"coordinates": "", "timestamp": 1653633988, "nonce": 2636366621,
            "gw_mac": "C8:25:2D:8E:9C:2C",
            "tags": {{"C6:A5:B9:E0:AD:06": {{"rssi": -71, "timestamp": 1653633986, "data": "{ADV}"}}}}}}}}"#
    );
    let obs = decode_json(&body).unwrap();
    assert_eq!(obs.len(), 1);
    let o = &obs[0];
    assert_eq!(o.reading.mac.unwrap().to_string(), "C6:A5:B9:E0:AD:06");
    assert_eq!(o.gateway_mac.unwrap().to_string(), "C8:25:2D:8E:9C:2C");
    assert_eq!(o.rssi, Some(-71));
    assert_eq!(o.time_ns, Some(1_653_633_986_000_000_000));
    assert_eq!(o.reading.temperature, Some(25.32));
}

#[test]
fn http_post_body_with_strings_and_counters() {
    // The docs' schema writes numbers as strings; without time sync tags carry a counter and
    // the body has no timestamp.
    let body = format!(
        r#"{{"data": {{"coordinates": "", "nonce": "2636366621", "gw_mac": "C8:25:2D:8E:9C:2C",
            "tags": {{"C6:A5:B9:E0:AD:06": {{"rssi": "-71", "counter": "42", "data": "{ADV}"}}}}}}}}"#
    );
    let obs = decode_json(&body).unwrap();
    assert_eq!(obs[0].rssi, Some(-71));
    assert_eq!(obs[0].time_ns, None);
}

#[test]
fn body_timestamp_is_the_default_for_tags() {
    let body = format!(
        r#"{{"data": {{"timestamp": "1653633988", "gw_mac": "C8:25:2D:8E:9C:2C", "tags": {{"C6:A5:B9:E0:AD:06": {{"rssi": -71, "data": "{ADV}"}}}}}}}}"#
    );
    assert_eq!(decode_json(&body).unwrap()[0].time_ns, Some(1_653_633_988_000_000_000));
}

#[test]
fn firmware_2020_gwmac_lowercase_without_colons() {
    let body = format!(
        r#"{{"data": {{"gwmac": "c8252d8e9c2c", "timestamp": 1600000000,
            "tags": {{"c6a5b9e0ad06": {{"rssi": -60, "timestamp": 1600000000, "data": "{}"}}}}}}}}"#,
        ADV.to_lowercase()
    );
    let o = &decode_json(&body).unwrap()[0];
    assert_eq!(o.gateway_mac.unwrap().to_string(), "C8:25:2D:8E:9C:2C");
    assert_eq!(o.reading.mac.unwrap().to_string(), "C6:A5:B9:E0:AD:06");
}

#[test]
fn mqtt_message() {
    let msg = r#"{"gw_mac":"C8:25:2D:8E:9C:2C","rssi":-26,"aoa":[],"gwts":1653668027,"ts":1653668027,
        "data":"0201061BFF99040515AE4C6DC6D7000CFFF803F4ADB6AD697FF41F0C28CBD6","coords":""}"#;
    let o = &decode_json(msg).unwrap()[0];
    assert_eq!(o.reading.mac.unwrap().to_string(), "F4:1F:0C:28:CB:D6");
    assert_eq!(o.rssi, Some(-26));
    assert_eq!(o.time_ns, Some(1_653_668_027_000_000_000));
    // Strings instead of numbers, and a counter instead of times.
    let msg = r#"{"gw_mac":"C8:25:2D:8E:9C:2C","rssi":"-26","cnt":"17","data":"0201061BFF99040515AE4C6DC6D7000CFFF803F4ADB6AD697FF41F0C28CBD6"}"#;
    let o = &decode_json(msg).unwrap()[0];
    assert_eq!((o.rssi, o.time_ns), (Some(-26), None));
}

#[test]
fn mqtt_decoded_only() {
    let msg = r#"{"gw_mac":"C8:25:2D:8E:9C:2C","rssi":-26,"ts":1653668027,"dataFormat":5,"temperature":27.75,
        "humidity":48.1875,"pressure":100786,"accelX":0.012,"accelY":-0.008,"accelZ":1.012,"movementCounter":173,
        "voltage":3.149,"txPower":4,"measurementSequenceNumber":44395,"id":"F4:1F:0C:28:CB:D6"}"#;
    let o = &decode_json(msg).unwrap()[0];
    assert_eq!(o.reading.temperature, Some(27.75));
    assert_eq!(o.reading.measurement_sequence, Some(44_395));
    assert_eq!(o.reading.mac.unwrap().to_string(), "F4:1F:0C:28:CB:D6");
    let air = r#"{"dataFormat":"E1","PM2.5":11.2,"CO2":800,"VOC":20,"NOx":4,"luminosity":13027,"flag_calibration_in_progress":true}"#;
    let o = &decode_json(air).unwrap()[0];
    assert_eq!(
        (o.reading.pm2_5, o.reading.co2, o.reading.calibration_in_progress),
        (Some(11.2), Some(800), Some(true))
    );
}

#[test]
fn envelope_mac_completes_short_payload_macs() {
    // Format 6 carries the low 3 bytes; the envelope knows all 6. Format 3 carries none.
    let df6 = "0201060303 98FC17FF990406170C5668C79E007000C90501D9FFCD004C884F".replace(' ', "");
    let body = format!(
        r#"{{"data":{{"gw_mac":"C8:25:2D:8E:9C:2C","tags":{{"CB:B8:33:4C:88:4F":{{"rssi":-50,"data":"{df6}"}}}}}}}}"#
    );
    assert_eq!(decode_json(&body).unwrap()[0].reading.mac.unwrap().to_string(), "CB:B8:33:4C:88:4F");
    let df3 = r#"{"mac":"AA:BB:CC:DD:EE:FF","data":"0201061103FF990403291A1ECE1EFC18F94202CA0B53"}"#
        .replace("1103FF990403", "11FF990403");
    assert_eq!(decode_json(&df3).unwrap()[0].reading.mac.unwrap().to_string(), "AA:BB:CC:DD:EE:FF");
}

#[test]
fn cloud_answer() {
    let body = format!(
        r#"{{"result":"success","data":{{"sensor":"C6:A5:B9:E0:AD:06","total":1,"name":"Sauna",
            "measurements":[{{"gwmac":"C8:25:2D:8E:9C:2C","coordinates":"","rssi":-70,"timestamp":"1653633986","data":"{ADV}"}}]}}}}"#
    );
    let o = &decode_json(&body).unwrap()[0];
    assert_eq!(o.rssi, Some(-70));
    assert_eq!(o.gateway_mac.unwrap().to_string(), "C8:25:2D:8E:9C:2C");
}

#[test]
fn simulator_line_with_rfc3339_time() {
    let line = format!(r#"{{"time":"2026-11-30T00:00:01.285Z","mac":"C6:A5:B9:E0:AD:06","rssi":-60,"data":"{ADV}"}}"#);
    assert_eq!(decode_json(&line).unwrap()[0].time_ns, Some(1_795_996_801_285_000_000));
}

#[test]
fn millisecond_timestamps_are_recognised() {
    let line = format!(r#"{{"ts":1653668027123,"data":"{ADV}"}}"#);
    assert_eq!(decode_json(&line).unwrap()[0].time_ns, Some(1_653_668_027_123_000_000));
}

#[test]
fn one_bad_tag_does_not_hide_the_others() {
    let body = format!(
        r#"{{"data":{{"gw_mac":"C8:25:2D:8E:9C:2C","tags":{{
            "C6:A5:B9:E0:AD:06":{{"rssi":-71,"data":"{ADV}"}},
            "AA:AA:AA:AA:AA:AA":{{"rssi":-71,"data":"0201061AFF4C00"}}}}}}}}"#
    );
    let results = parse_message(&body).unwrap();
    assert_eq!(results.len(), 2);
    assert!(results[0].is_ok());
    match &results[1] {
        Err(GatewayError::Decode { mac, .. }) => assert_eq!(mac, "AA:AA:AA:AA:AA:AA"),
        other => panic!("{other:?}"),
    }
    assert!(decode_json(&body).is_err());
}

#[test]
fn malformed_documents_are_errors_not_panics() {
    for doc in [
        "",
        "not json",
        "[]",
        "42",
        r#"{"data": 5}"#,
        r#"{"data": {"tags": []}}"#,
        r#"{"data": {"tags": {"x": 1}}}"#,
        r#"{"data": "zz"}"#,
        r#"{"gw_mac": "nonsense", "data": "0201"}"#,
        r#"{"ts": {"a": 1}, "data": "0512"}"#,
        r#"{"time": "yesterday-ish", "data": "0512"}"#,
        r#"{"data": {"measurements": 3}}"#,
    ] {
        let ok = parse_message(doc).map(|r| r.iter().all(Result::is_ok)).unwrap_or(false);
        assert!(!ok, "{doc:?} should not decode");
    }
}

#[test]
fn json_lines_and_arrays() {
    let line = format!(r#"{{"ts":1653668027,"data":"{ADV}"}}"#);
    let text = format!("{line}\n{line}\n[{line},{line}]\n");
    let results = parse_documents(&text);
    assert_eq!(results.len(), 4);
    assert!(results.iter().all(Result::is_ok));
    let broken = format!("{line}\n{{oops\n{line}");
    let results = parse_documents(&broken);
    assert_eq!(results.len(), 2);
    assert!(matches!(results[1], Err(GatewayError::Json(_))));
}

/// Ruuvi Station's (Android) data forwarding POST: decoded tags in an array, pressure in hPa.
const STATION: &str = r#"{"deviceId": "pixel-7", "eventId": "5b7c1c0e", "time": "2026-12-07T10:00:00Z",
    "location": {"latitude": 60.17, "longitude": 24.94, "accuracy": 12.0}, "batteryLevel": 81,
    "tags": [
      {"id": "C6:A5:B9:E0:AD:06", "rssi": -71, "name": "Sauna", "temperature": 80.25, "temperatureOffset": 0.0,
       "humidity": 12.5, "humidityOffset": 0.0, "pressure": 1002.5, "pressureOffset": 0.0,
       "accelX": 0.004, "accelY": -0.004, "accelZ": 1.036, "voltage": 2.977, "txPower": 4,
       "movementCounter": 66, "measurementSequenceNumber": 205, "dataFormat": 5,
       "updateAt": "2026-12-07T09:59:58Z", "connectable": true, "favorite": true},
      {"id": "F4:1F:0C:28:CB:D6", "rssi": -80, "temperature": 21.0, "pressure": 100250, "dataFormat": 5,
       "updateAt": "Dec 7, 2026 9:59:59 AM"},
      {"id": "not a mac", "temperature": 1.0, "dataFormat": 5}
    ]}"#;

#[test]
fn ruuvi_station_data_forwarding() {
    let results = parse_message(STATION).unwrap();
    assert_eq!(results.len(), 3);
    let sauna = results[0].as_ref().unwrap();
    assert_eq!(sauna.reading.mac.unwrap().to_string(), "C6:A5:B9:E0:AD:06");
    assert_eq!((sauna.reading.temperature, sauna.reading.humidity), (Some(80.25), Some(12.5)));
    assert_eq!(sauna.reading.pressure, Some(100_250.0), "hPa become Pa");
    assert_eq!((sauna.reading.measurement_sequence, sauna.rssi), (Some(205), Some(-71)));
    assert_eq!(sauna.time_ns, Some(1_796_637_598_000_000_000));
    let second = results[1].as_ref().unwrap();
    assert_eq!(second.reading.pressure, Some(100_250.0), "Pa stay Pa");
    assert_eq!(second.time_ns, Some(1_796_637_600_000_000_000), "an unreadable date falls back to the message's time");
    let e = results[2].as_ref().unwrap_err().to_string();
    assert!(e.contains("tag not a mac"), "{e}");
}
