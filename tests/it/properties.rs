//! Property tests: encode → decode round trips, and no input can panic the decoder.

use proptest::prelude::*;
use ruuvistream::ruuvi::{
    DataFormat, Reading, decode, decode_advertisement, decode_hex, decode_payload, encode, encode_advertisement,
};

fn valid_df5() -> impl Strategy<Value = Vec<u8>> {
    (
        -32767i16..=32767,
        0u16..=65534,
        0u16..=65534,
        prop::array::uniform3(-32767i16..=32767),
        0u16..=2046,
        0u16..=30,
        0u8..=254,
        0u16..=65534,
        prop::array::uniform6(any::<u8>()).prop_filter("not the all-FF N/A MAC", |m| *m != [0xFF; 6]),
    )
        .prop_map(|(t, h, p, acc, batt, tx, mv, seq, mac)| {
            let mut v = vec![5u8];
            v.extend_from_slice(&t.to_be_bytes());
            v.extend_from_slice(&h.to_be_bytes());
            v.extend_from_slice(&p.to_be_bytes());
            for a in acc {
                v.extend_from_slice(&a.to_be_bytes());
            }
            v.extend_from_slice(&(batt << 5 | tx).to_be_bytes());
            v.push(mv);
            v.extend_from_slice(&seq.to_be_bytes());
            v.extend_from_slice(&mac);
            v
        })
}

fn valid_e1() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(any::<u8>(), 40), 0u32..0xFF_FFFF, 0u16..=500, 0u16..=500, any::<bool>()).prop_map(
        |(mut v, seq, voc, nox, cal)| {
            v[0] = 0xE1;
            if v[1..3] == [0x80, 0x00] {
                v[1] = 0; // keep the temperature available so that it round-trips as a value
            }
            v[17] = (voc >> 1) as u8;
            v[18] = (nox >> 1) as u8;
            v[25..28].copy_from_slice(&seq.to_be_bytes()[1..]);
            v[28] = u8::from(cal) | if voc & 1 == 1 { 0x40 } else { 0 } | if nox & 1 == 1 { 0x80 } else { 0 };
            // Reserved bytes are written back as FF.
            v[22..25].fill(0xFF);
            v[29..34].fill(0xFF);
            v
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn df5_payload_round_trips(p in valid_df5()) {
        let r = decode_payload(&p).unwrap();
        prop_assert_eq!(encode(&r, DataFormat::Df5).unwrap(), p);
    }

    #[test]
    fn e1_payload_round_trips(p in valid_e1()) {
        let r = decode_payload(&p).unwrap();
        let again = encode(&r, DataFormat::E1).unwrap();
        // Fields at "not available" keep their sentinel; everything decodes identically.
        prop_assert_eq!(decode_payload(&again).unwrap(), r);
    }

    #[test]
    fn readings_round_trip_within_resolution(
        t in -163.0f64..163.0, h in 0.0f64..100.0, p in 50_000.0f64..115_000.0,
        ax in -30.0f64..30.0, v in 1.6f64..3.6, seq in 0u32..65_535,
    ) {
        let mut r = Reading::empty(DataFormat::Df5);
        r.temperature = Some(t);
        r.humidity = Some(h);
        r.pressure = Some(p);
        r.acceleration_x = Some(ax);
        r.battery_voltage = Some(v);
        r.measurement_sequence = Some(seq);
        for format in [DataFormat::Df5, DataFormat::C5, DataFormat::E1, DataFormat::Df6] {
            let back = decode(&encode_advertisement(&r, format).unwrap()).unwrap();
            prop_assert!((back.temperature.unwrap() - t).abs() <= 0.0025 + 1e-9);
            prop_assert!((back.humidity.unwrap() - h).abs() <= 0.00125 + 1e-9);
            prop_assert!((back.pressure.unwrap() - p).abs() <= 0.5);
            if format == DataFormat::Df5 {
                prop_assert!((back.acceleration_x.unwrap() - ax).abs() <= 0.0005 + 1e-9);
            }
            if matches!(format, DataFormat::Df5 | DataFormat::C5) {
                prop_assert!((back.battery_voltage.unwrap() - v).abs() <= 0.0005 + 1e-9);
                prop_assert_eq!(back.measurement_sequence, Some(seq));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&bytes);
        let _ = decode_advertisement(&bytes);
        let _ = decode_payload(&bytes);
    }

    #[test]
    fn arbitrary_ruuvi_prefixed_bytes_never_panic(
        format in prop::sample::select(vec![3u8, 5, 6, 0xC5, 0xE1, 8, 2, 4]),
        len_byte in any::<u8>(),
        tail in prop::collection::vec(any::<u8>(), 0..60),
    ) {
        let mut ad = vec![len_byte, 0xFF, 0x99, 0x04, format];
        ad.extend_from_slice(&tail);
        let _ = decode(&ad);
        let mut bare = vec![format];
        bare.extend_from_slice(&tail);
        let _ = decode(&bare);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,120}") {
        let _ = decode_hex(&s);
        let _ = ruuvistream::ruuvi::decode_url(&s);
        let _ = ruuvistream::ruuvi::gateway::parse_message(&s);
        let _ = ruuvistream::units::parse_duration(&s);
    }

    #[test]
    fn arbitrary_json_never_panics(s in r#"\{("[a-z_]{1,10}": ?("[0-9A-Fa-f:]{0,60}"|-?[0-9]{1,20}|\{\}|\[\]|null),? ?){0,6}\}"#) {
        let _ = ruuvistream::ruuvi::gateway::parse_message(&s);
    }
}

#[test]
fn encoders_clip_and_mark_not_available() {
    let mut r = Reading::empty(DataFormat::Df5);
    r.temperature = Some(170.0);
    r.humidity = Some(f64::NAN);
    r.pressure = Some(20_000.0);
    r.battery_voltage = Some(5.0);
    r.tx_power = Some(30);
    let back = decode_payload(&encode(&r, DataFormat::Df5).unwrap()).unwrap();
    assert_eq!(back.temperature, Some(163.835));
    assert_eq!(back.humidity, None);
    assert_eq!(back.pressure, Some(50_000.0));
    assert_eq!(back.battery_voltage, Some(3.646));
    assert_eq!(back.tx_power, Some(20));
    assert_eq!(back.acceleration_x, None);
    assert_eq!(back.mac, None);
    assert!(encode(&r, DataFormat::Url2).is_err());
}

#[test]
fn format_3_round_trips_its_values() {
    let p = crate::hex("03291A1ECE1EFC18F94202CA0B53");
    let r = decode_payload(&p).unwrap();
    assert_eq!(encode(&r, DataFormat::Df3).unwrap(), p);
    let neg = crate::hex("03178145355803E804E705E60886");
    assert_eq!(encode(&decode_payload(&neg).unwrap(), DataFormat::Df3).unwrap(), neg);
}

#[test]
fn format_6_round_trips() {
    let p = crate::hex("06170C5668C79E007000C90501D9FFCD004C884F");
    let r = decode_payload(&p).unwrap();
    assert_eq!(encode(&r, DataFormat::Df6).unwrap(), p);
}
