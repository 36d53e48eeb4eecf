//! The shapes Ruuvi data travels in, and the errors for everything that is not Ruuvi data.

use ruuvistream::DecodeError;
use ruuvistream::ruuvi::{decode, decode_advertisement, decode_hex, decode_payload};

use crate::hex;

const DF5: &str = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F";

#[test]
fn every_shape_decodes_to_the_same_reading() {
    let bare = decode_hex(DF5).unwrap();
    let shapes = [
        DF5.to_lowercase(),
        format!("0x{DF5}"),
        format!("  {DF5}\n"),
        format!("9904{DF5}"),                   // manufacturer data with company id
        format!("0201061BFF9904{DF5}"),         // Gateway `data`: flags + manufacturer data
        format!("0201041BFF9904{DF5}"),         // flags value 0x04, as in the docs example
        format!("1BFF9904{DF5}"),               // manufacturer data AD structure alone
        format!("1F0201061BFF9904{DF5}"),       // hcidump: total length first
        format!("1F0201061BFF9904{DF5}BC"),     // hcidump with a trailing RSSI byte
        format!("0201061BFF9904{DF5}0000"),     // zero padding after the last structure
        format!("0201060303AAFE1BFF9904{DF5}"), // another AD structure before it
    ];
    for s in &shapes {
        assert_eq!(decode_hex(s).unwrap_or_else(|e| panic!("{s}: {e}")), bare, "{s}");
    }
    assert_eq!(decode(&hex(&format!("9904{DF5}"))).unwrap(), bare);
}

#[test]
fn gateway_examples_from_the_docs() {
    // The docs' full advertisement (flags 0x04) and a Gateway POST `data` string.
    let r = decode_hex("0201041BFF9904050F274035C454005000C8FC20A456F030E5C9445429E38D").unwrap();
    assert_eq!(r.mac.unwrap().to_string(), "C9:44:54:29:E3:8D");
    let g = decode_hex("0201061BFF99040513C85714C7CC00240008041CAB76F41C3CC6A5B9E0AD06").unwrap();
    assert_eq!(g.mac.unwrap().to_string(), "C6:A5:B9:E0:AD:06");
    assert_eq!(g.temperature, Some(25.32));
}

#[test]
fn format_6_and_e1_advertisements() {
    let df6 = "06170C5668C79E007000C90501D9FFCD004C884F";
    let r = decode_hex(&format!("0201060303 98FC17FF9904{df6}").replace(' ', "")).unwrap();
    assert_eq!(r.co2, Some(201));
    let e1 = "E1170C5668C79E0065007004BD11CA00C90A0213E0ACFFFFFFDECDEE01FFFFFFFFFFCBB8334C884F";
    let r = decode_hex(&format!("2BFF9904{e1}")).unwrap();
    assert_eq!(r.measurement_sequence, Some(14_601_710));
}

#[test]
fn typed_errors() {
    let cases: Vec<(&str, DecodeError)> = vec![
        ("", DecodeError::Empty),
        ("   ", DecodeError::Empty),
        ("0512FC", DecodeError::WrongLength { format: 5, expected: 24, actual: 3 }),
        (
            "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F00",
            DecodeError::WrongLength { format: 5, expected: 24, actual: 25 },
        ),
        ("9904E1170C", DecodeError::WrongLength { format: 0xE1, expected: 40, actual: 3 }),
        ("1BFF99040512FC", DecodeError::WrongLength { format: 5, expected: 24, actual: 3 }),
        ("0201061AFF4C000215", DecodeError::NotRuuvi("no Ruuvi manufacturer data or Ruuvi URL in the advertisement")),
    ];
    for (input, expected) in cases {
        let got = decode_hex(input).unwrap_err();
        if let DecodeError::NotRuuvi(_) = expected {
            assert!(matches!(got, DecodeError::NotRuuvi(_)), "{input}: {got:?}");
        } else {
            assert_eq!(got, expected, "{input}");
        }
    }
    assert!(matches!(decode_hex("0512FG"), Err(DecodeError::BadHex { position: 5, .. })));
    assert!(matches!(decode_hex("051"), Err(DecodeError::BadHex { position: 3, reason: "odd number of hex digits" })));
    // An odd count of characters that are not hex at all: the first wrong character is named.
    assert!(matches!(decode_hex("hello"), Err(DecodeError::BadHex { position: 0, reason: "not a hex digit" })));
    assert!(matches!(decode_hex(" 0x05G"), Err(DecodeError::BadHex { position: 5, reason: "not a hex digit" })));
    assert!(matches!(decode_hex(&"00".repeat(300)), Err(DecodeError::BadHex { .. })));
    assert!(matches!(decode_hex("https://ruu.vi/#B!"), Err(DecodeError::BadUrl(_))));
    assert!(matches!(decode(&[0x4C, 0x00, 0x02]), Err(DecodeError::NotRuuvi(_))));
}

#[test]
fn unsupported_formats_are_named() {
    // Format 8 is a proposal; 7, E0, F0, FA, CA were never published.
    for (code, len) in [(0x08u8, 24usize), (0x07, 20), (0xE0, 40), (0xF0, 20), (0xFA, 20), (0xCA, 10)] {
        let mut p = vec![0u8; len];
        p[0] = code;
        match decode(&p) {
            Err(DecodeError::UnsupportedFormat { format, .. }) => assert_eq!(format, code),
            other => panic!("{code:02X}: {other:?}"),
        }
        let mut ad = vec![(len + 3) as u8, 0xFF, 0x99, 0x04];
        ad.extend_from_slice(&p);
        assert!(matches!(decode_advertisement(&ad), Err(DecodeError::UnsupportedFormat { .. })));
    }
    let msg = decode_payload(&[0x08; 24]).unwrap_err().to_string();
    assert!(msg.contains("proposal"), "{msg}");
    assert!(matches!(decode_payload(&[0x02, 0, 0]), Err(DecodeError::UnsupportedFormat { format: 2, .. })));
}

#[test]
fn error_messages_are_readable() {
    let e = decode_hex("0512FC").unwrap_err().to_string();
    assert_eq!(e, "wrong length for Ruuvi data format 5: expected 24 bytes, got 3");
    let e = decode_hex("9904E1").unwrap_err().to_string();
    assert_eq!(e, "wrong length for Ruuvi data format E1: expected 40 bytes, got 1");
}
