//! Both directions, and what each makes of what the other (or another
//! tool) stored.

use super::write::bson_from_json;
use super::*;
use mongodb::bson::{
    doc, oid::ObjectId, spec::BinarySubtype, Binary, Bson, DateTime, Decimal128, Document,
    JavaScriptCodeWithScope, RawDocumentBuf, Regex, Timestamp,
};
use serde_json::{json, Value};

fn stored(json: Value) -> Document {
    doc_from_json(&json.to_string(), "data").unwrap()
}

fn read(doc: &Document) -> Result<Value, DecodeError> {
    let raw = RawDocumentBuf::from_document(doc).unwrap();
    document_json(&raw, "").map(|text| serde_json::from_str(&text).unwrap())
}

fn read_error(doc: Document) -> DecodeError {
    read(&doc).unwrap_err()
}

const OID: &str = "5f1d7a2b9c8e4d3a2b1c0d9e";

#[test]
fn every_ejson_tag_is_stored_as_meteor_stores_that_type() {
    let doc = stored(json!({
        "when": { "$date": 86_400_000 },
        "bytes": { "$binary": "AQID" },
        "nan": { "$InfNaN": 0 },
        "inf": { "$InfNaN": 1 },
        "negInf": { "$InfNaN": -1 },
        "re": { "$regexp": "a+b", "$flags": "gimsuy" },
        "id": { "$type": "oid", "$value": OID },
        "money": { "$type": "Decimal", "$value": "12.50" },
        "int": 7,
        "long": 9_007_199_254_740_991_i64,
        "float": 2.5,
    }));
    assert_eq!(
        doc.get("when"),
        Some(&Bson::DateTime(DateTime::from_millis(86_400_000)))
    );
    assert_eq!(
        doc.get("bytes"),
        Some(&Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: vec![1, 2, 3]
        }))
    );
    assert!(matches!(doc.get("nan"), Some(Bson::Double(f)) if f.is_nan()));
    assert_eq!(doc.get("inf"), Some(&Bson::Double(f64::INFINITY)));
    assert_eq!(doc.get("negInf"), Some(&Bson::Double(f64::NEG_INFINITY)));
    assert_eq!(
        doc.get("re"),
        Some(&Bson::RegularExpression(Regex {
            pattern: "a+b".into(),
            options: "imsu".into()
        })),
        "i m s u are kept, sorted; g and y have no stored meaning"
    );
    assert_eq!(
        doc.get("id"),
        Some(&Bson::ObjectId(ObjectId::parse_str(OID).unwrap()))
    );
    assert_eq!(
        doc.get("money"),
        Some(&Bson::Decimal128("12.50".parse::<Decimal128>().unwrap()))
    );
    assert_eq!(doc.get("int"), Some(&Bson::Int32(7)));
    assert_eq!(doc.get("long"), Some(&Bson::Int64(9_007_199_254_740_991)));
    assert_eq!(doc.get("float"), Some(&Bson::Double(2.5)));
}

#[test]
fn every_type_reads_back_as_the_json_it_was_stored_from() {
    let data = json!({
        "when": { "$date": -1_000 },
        "bytes": { "$binary": "AQID/w==" },
        "nan": { "$InfNaN": 0 },
        "inf": { "$InfNaN": 1 },
        "negInf": { "$InfNaN": -1 },
        "re": { "$regexp": "^x\\d", "$flags": "imsu" },
        "id": { "$type": "oid", "$value": OID },
        "money": { "$type": "Decimal", "$value": "-1.05E+3" },
        "custom": { "$type": "Distance", "$value": { "m": [1, { "unit": "km" }], "$odd": null } },
        "list": [1, "two", { "three": { "$date": 3 } }, [true, null]],
        "text": "quote \" backslash \\ newline \n tab \t nul \u{0} é 😀",
        "float": 0.1,
        "big": 1e300,
        "escaped": { "$escape": { "$foo": 1 } },
    });
    let back = read(&stored(data.clone())).unwrap();
    let mut expected = data;
    // A literal document with no tag shape reads as itself, without its escape.
    expected["escaped"] = json!({ "$foo": 1 });
    assert_eq!(back, expected);
}

#[test]
fn other_custom_types_are_stored_in_meteors_form_with_every_key_prefixed() {
    let doc = stored(
        json!({ "d": { "$type": "Distance", "$value": { "m": 3, "parts": [{ "$x": 1 }] } } }),
    );
    assert_eq!(
        doc.get_document("d").unwrap(),
        &doc! {
            "EJSON$type": "Distance",
            "EJSON$value": { "EJSONm": 3, "EJSONparts": [{ "EJSON$x": 1 }] },
        }
    );
    let written_by_meteor = doc! {
        "d": { "EJSON$type": "Distance", "EJSON$value": { "EJSONm": 3, "EJSONunit": "km" } },
    };
    assert_eq!(
        read(&written_by_meteor).unwrap(),
        json!({ "d": { "$type": "Distance", "$value": { "m": 3, "unit": "km" } } })
    );
}

#[test]
fn stored_bson_types_read_as_meteor_reads_them() {
    let doc = doc! {
        "uuid": Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes: vec![0xab; 16] }),
        "re": Bson::RegularExpression(Regex { pattern: "a/b".into(), options: "ilm".into() }),
        "sym": Bson::Symbol("s".into()),
        "undef": Bson::Undefined,
        "i32": Bson::Int32(-5),
        "i64": Bson::Int64(1 << 40),
        "negZero": Bson::Double(-0.0),
        "nan": Bson::Double(f64::NAN),
        "oid": Bson::ObjectId(ObjectId::parse_str(OID).unwrap()),
        "dec": Bson::Decimal128("1.5".parse::<Decimal128>().unwrap()),
    };
    let value = read(&doc).unwrap();
    // -0.0 == 0.0, so the comparison below cannot see a lost sign.
    assert!(value["negZero"].as_f64().unwrap().is_sign_negative());
    assert_eq!(
        value,
        json!({
            "uuid": { "$binary": "q6urq6urq6urq6urq6urqw==" },
            "re": { "$regexp": "a/b", "$flags": "im" },
            "sym": "s",
            "undef": null,
            "i32": -5,
            "i64": 1_099_511_627_776_i64,
            "negZero": -0.0,
            "nan": { "$InfNaN": 0 },
            "oid": { "$type": "oid", "$value": OID },
            "dec": { "$type": "Decimal", "$value": "1.5" },
        })
    );
}

#[test]
fn well_formed_tag_documents_read_as_their_type() {
    let ms = 86_400_000;
    for date in [
        Bson::DateTime(DateTime::from_millis(ms)),
        Bson::Int64(ms),
        Bson::Double(ms as f64),
        Bson::String("1970-01-02T00:00:00Z".into()),
    ] {
        assert_eq!(
            read(&doc! { "at": { "$date": date.clone() } }).unwrap(),
            json!({ "at": { "$date": ms } }),
            "{date:?}"
        );
    }
    assert_eq!(
        read(&doc! { "id": { "$type": "oid", "$value": OID.to_uppercase() } }).unwrap(),
        json!({ "id": { "$type": "oid", "$value": OID } })
    );
    assert_eq!(
        read(&doc! { "t": { "$type": "Thing", "$value": { "$date": "kept as JSON" } } }).unwrap(),
        json!({ "t": { "$type": "Thing", "$value": { "$date": "kept as JSON" } } }),
        "a custom type's value is handed on untouched"
    );
}

#[test]
fn documents_with_other_dollar_keys_are_plain_data() {
    let doc = doc! {
        "a": { "$foo": 1 },
        "b": { "$date": 1, "x": 2 },
        "c": { "$type": "string" },
        "d": { "$regexp": "x" },
        "e": { "EJSON$type": 5, "EJSON$value": 1 },
    };
    assert_eq!(
        read(&doc).unwrap(),
        json!({
            "a": { "$foo": 1 },
            "b": { "$date": 1, "x": 2 },
            "c": { "$type": "string" },
            "d": { "$regexp": "x" },
            "e": { "EJSON$type": 5, "EJSON$value": 1 },
        })
    );
}

#[test]
fn malformed_tags_are_errors_naming_their_path() {
    let cases = [
        (doc! { "data": { "nested": { "$date": "not a date" } } }, "data.nested.$date", "$date must be a BSON date, a number of ms or an ISO date string, got string \"not a date\""),
        (doc! { "data": { "b": { "$binary": "not base64!" } } }, "data.b.$binary", "$binary must be a base64 string"),
        (doc! { "data": { "id": { "$type": "oid", "$value": "zz" } } }, "data.id.$value", "an oid of 24 hex digits"),
        (doc! { "data": { "id": { "EJSON$type": "oid", "EJSON$value": 5 } } }, "data.id.EJSON$value", "an oid of 24 hex digits, got number 5"),
        (doc! { "data": { "d": { "$type": "Decimal", "$value": "1,5" } } }, "data.d.$value", "a Decimal as a decimal string"),
        (doc! { "data": { "n": { "$InfNaN": "x" } } }, "data.n.$InfNaN", "$InfNaN must be a number"),
        (doc! { "data": { "r": { "$regexp": "x", "$flags": 1 } } }, "data.r.$regexp", "a string beside a string $flags"),
        (doc! { "data": { "e": { "$escape": 5 } } }, "data.e.$escape", "$escape must be an embedded document"),
        (doc! { "data": { "t": { "$type": 5, "$value": 1 } } }, "data.t.$type", "a type name"),
        (doc! { "data": { "list": [1, { "$date": true }] } }, "data.list.1.$date", "got boolean true"),
    ];
    for (doc, path, message) in cases {
        let error = read_error(doc);
        assert_eq!(error.path, path);
        assert!(error.to_string().contains(message), "{error}");
        assert!(
            error.to_string().starts_with(&format!("{path}: ")),
            "{error}"
        );
    }
}

#[test]
fn bson_types_without_an_ejson_form_are_errors_naming_their_path() {
    let dbpointer =
        Bson::try_from(json!({ "$dbPointer": { "$ref": "c", "$id": { "$oid": OID } } })).unwrap();
    let cases = [
        (Bson::MinKey, "MinKey"),
        (Bson::MaxKey, "MaxKey"),
        (Bson::JavaScriptCode("1".into()), "JavaScript code"),
        (
            Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope {
                code: "x".into(),
                scope: doc! {},
            }),
            "JavaScript code with scope",
        ),
        (dbpointer, "DBPointer"),
        (
            Bson::Timestamp(Timestamp {
                time: 1,
                increment: 2,
            }),
            "Timestamp",
        ),
    ];
    for (value, kind) in cases {
        let error = read_error(doc! { "data": { "x": [value] } });
        assert_eq!(error.path, "data.x.0");
        assert_eq!(error.reason, Reason::NoEjsonForm(kind));
    }
    let error = read_error(
        doc! { "re": Bson::RegularExpression(Regex { pattern: "a b".into(), options: "x".into() }) },
    );
    assert_eq!(
        (error.path.as_str(), &error.reason),
        ("re", &Reason::RegexFlag('x'))
    );
    let error = read_error(doc! { "far": Bson::DateTime(DateTime::from_millis(i64::MAX)) });
    assert_eq!(error.reason, Reason::DateOutOfRange(i64::MAX));
}

/// A document `{ data: { s: <string of these bytes> } }`, built by hand.
fn document_with_string_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut string = (bytes.len() as i32 + 1).to_le_bytes().to_vec();
    string.extend_from_slice(bytes);
    string.push(0);
    let mut inner = vec![0x02, b's', 0];
    inner.extend_from_slice(&string);
    let inner = wrap(inner);
    let mut outer = vec![0x03];
    outer.extend_from_slice(b"data\0");
    outer.extend_from_slice(&inner);
    wrap(outer)
}

fn wrap(mut elements: Vec<u8>) -> Vec<u8> {
    elements.push(0);
    let mut doc = (elements.len() as i32 + 4).to_le_bytes().to_vec();
    doc.extend_from_slice(&elements);
    doc
}

#[test]
fn invalid_utf8_is_an_error_at_its_path_and_valid_bytes_read() {
    let good = document_with_string_bytes("é".as_bytes());
    let raw = mongodb::bson::RawDocument::from_bytes(&good).unwrap();
    assert_eq!(document_json(raw, "").unwrap(), r#"{"data":{"s":"é"}}"#);
    let bad = document_with_string_bytes(&[0xff, 0xfe]);
    let raw = mongodb::bson::RawDocument::from_bytes(&bad).unwrap();
    let error = document_json(raw, "").unwrap_err();
    assert_eq!(
        (error.path.as_str(), &error.reason),
        ("data.s", &Reason::InvalidUtf8)
    );
}

#[test]
fn strict_writes_refuse_malformed_tags_and_look_alikes_that_would_not_read_back() {
    let error = |value: Value| bson_from_json(&value, "data").unwrap_err();
    assert_eq!(
        error(json!({ "a": { "$binary": "%%" } })).path,
        "data.a.$binary"
    );
    assert_eq!(
        error(json!({ "a": { "$date": "soon" } })).path,
        "data.a.$date"
    );
    assert_eq!(
        error(json!({ "a": [{ "$type": "oid", "$value": "12" }] })).path,
        "data.a.0.$type"
    );
    assert_eq!(
        error(json!({ "r": { "$regexp": "x", "$flags": "v" } })).reason,
        Reason::RegexFlag('v')
    );
    assert_eq!(
        error(json!({ "e": { "$escape": { "$date": "x" } } })).reason,
        Reason::LooksLikeTag
    );
    assert_eq!(
        error(json!({ "d": { "$date": 8.64e15 + 1.0 } })).reason,
        Reason::DateOutOfRange(8_640_000_000_000_001)
    );
    assert!(doc_from_json("[1]", "selector").is_err());
    assert!(doc_from_json("{", "selector").is_err());
}

#[test]
fn lenient_conversion_keeps_a_malformed_tag_as_the_object_it_looks_like() {
    assert_eq!(
        to_bson(&json!({ "at": { "$lt": { "$date": 5 } }, "odd": { "$date": "soon" } })),
        Bson::Document(doc! {
            "at": { "$lt": Bson::DateTime(DateTime::from_millis(5)) },
            "odd": { "$date": "soon" },
        })
    );
}

#[test]
fn blobs_are_stored_from_their_bytes_as_strings_and_binaries_and_numbers_without_them_are_refused()
{
    use crate::wire::payload::{Blob, Payload};
    let payload = Payload::new(
        json!({ "s": { "$binary": 0 }, "b": [{ "$binary": 1 }], "small": { "$binary": "AAE=" } })
            .to_string(),
        vec![
            Blob::text("é\"x".to_owned()),
            Blob::bytes(vec![0u8, 1, 255]),
        ],
    );
    let doc = doc_from_payload(&payload, "data").unwrap();
    assert_eq!(doc.get_str("s").unwrap(), "é\"x");
    assert_eq!(
        doc.get_array("b").unwrap()[0],
        Bson::Binary(Binary {
            subtype: BinarySubtype::Generic,
            bytes: vec![0, 1, 255],
        })
    );
    assert_eq!(
        doc.get_binary_generic("small").unwrap(),
        &vec![0u8, 1],
        "base64 text stays what it was"
    );
    // A number with no such blob is a malformed tag.
    let missing = Payload::from(json!({ "s": { "$binary": 2 } }).to_string());
    assert_eq!(
        doc_from_payload(&missing, "data").unwrap_err().path,
        "data.s.$binary"
    );
}

#[test]
fn large_strings_and_binaries_are_read_as_blobs_except_inside_a_custom_type() {
    use crate::wire::payload::{Blob, BLOB_MIN};
    let long = "é".repeat(BLOB_MIN);
    let bytes: Vec<u8> = (0..BLOB_MIN).map(|i| i as u8).collect();
    let binary = |bytes: &[u8]| Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    };
    let doc = doc! {
        "s": &long,
        "b": [binary(&bytes), binary(&[1, 2])],
        "short": "x",
        "custom": { "EJSON$type": "T", "EJSON$value": { "EJSONv": &long } },
    };
    let raw = RawDocumentBuf::from_document(&doc).unwrap();
    let payload = value_payload(
        mongodb::bson::RawBsonRef::Document(&raw),
        &Path::Root("data"),
    )
    .unwrap();
    assert!(
        payload.blobs() == [Blob::text(long.clone()), Blob::bytes(bytes)],
        "the long string and the large binary are the blobs"
    );
    let json: Value = serde_json::from_str(payload.json()).unwrap();
    assert_eq!(json["s"], json!({ "$binary": 0 }));
    assert_eq!(json["b"], json!([{ "$binary": 1 }, { "$binary": "AQI=" }]));
    assert_eq!(json["short"], "x");
    assert_eq!(json["custom"]["$type"], "T");
    assert!(
        json["custom"]["$value"]["v"] == long,
        "a custom type's value stays JSON"
    );
    // As text alone, every one is written in.
    assert!(
        serde_json::from_str::<Value>(&document_json(&raw, "").unwrap()).unwrap()
            == serde_json::from_str::<Value>(&payload.inline()).unwrap(),
        "the payload is the document's text with its blobs taken out"
    );
}
