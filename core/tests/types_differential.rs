//! Differential type test: keel's binary codec against PostgreSQL itself.
//!
//! For every built-in type (and arrays of each, ranges, records, enums and
//! domains) it generates values, edge cases first, then seeded random ones,
//! and for each value:
//! 1. decodes the server's binary bytes with keel and renders them with
//!    [`Value::to_pg_text`], which must equal the server's own text output
//!    (`format('%s', v)`, i.e. the type's output function; `v::text` is not
//!    used because for bool, bpchar, inet and cidr it is a different cast);
//! 2. re-encodes the decoded value, which must give the server's bytes back;
//! 3. binds that value as a parameter (`SELECT $1::type`) and checks the
//!    server returns the same bytes and the same text.
//!
//! It fails on any mismatch and prints how many values it checked.
//! `KEEL_TYPES_RANDOM=n` sets the number of random values per type (default 60).

mod engine_support;

use keel_core::protocol::Client;
use keel_core::types::PgType;
use keel_core::types::Value;

use engine_support::Tcp;

/// SplitMix64: tiny, seedable, and good enough to spread test values.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        let span = (hi as i128 - lo as i128 + 1) as u128;
        (lo as i128 + (u128::from(self.next()) % span) as i128) as i64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.next() as usize % items.len()]
    }
}

fn lit(text: &str, ty: &str) -> String {
    format!("'{}'::{ty}", text.replace('\'', "''"))
}

/// One type under test: SQL expressions producing its values.
struct Case {
    ty: String,
    exprs: Vec<String>,
    /// PostgreSQL cannot receive anonymous records as parameters
    /// ("input of anonymous composite types is not implemented").
    bind: bool,
}

const TRICKY_TEXT: &[&str] = &[
    "",
    " ",
    "NULL",
    "null",
    "a,b",
    "{x}",
    "(y)",
    "[z]",
    "quote \" here",
    "back\\slash",
    "tab\there",
    "new\nline",
    "héllo wörld",
    "日本語",
    "emoji 🦀",
    "'single'",
    "trailing  ",
];

fn random_text(rng: &mut Rng) -> String {
    let pool: Vec<char> = "abcXYZ 019,{}()[]\"\\'é日🦀\t-_.".chars().collect();
    let len = rng.range(0, 12) as usize;
    (0..len).map(|_| *rng.pick(&pool)).collect()
}

fn random_f64(rng: &mut Rng) -> f64 {
    loop {
        let v = f64::from_bits(rng.next());
        if v.is_finite() {
            return v;
        }
    }
}

fn random_f32(rng: &mut Rng) -> f32 {
    loop {
        let v = f32::from_bits(rng.next() as u32);
        if v.is_finite() {
            return v;
        }
    }
}

fn random_numeric(rng: &mut Rng) -> String {
    let digits = |rng: &mut Rng, n: i64| -> String {
        (0..n)
            .map(|_| char::from(b'0' + rng.range(0, 9) as u8))
            .collect()
    };
    let int_len = rng.range(0, 30);
    let frac_len = rng.range(0, 30);
    let mut s = String::new();
    if rng.next() % 2 == 0 {
        s.push('-');
    }
    let int = digits(rng, int_len);
    s.push_str(if int.is_empty() { "0" } else { &int });
    if frac_len > 0 {
        s.push('.');
        s.push_str(&digits(rng, frac_len));
    }
    s
}

/// Days since 2000-01-01 covering PostgreSQL's whole date range (4713 BC to 5874897 AD).
fn random_date(rng: &mut Rng) -> Value {
    Value::Date(keel_core::types::Date::Days(
        rng.range(-2_451_545, 2_145_031_948) as i32,
    ))
}

fn random_timestamp_micros(rng: &mut Rng) -> i64 {
    // PostgreSQL's MIN_TIMESTAMP and (END_TIMESTAMP - 1).
    let micros = rng.range(-211_813_488_000_000_000, 9_223_371_331_199_999_999);
    if rng.next() % 2 == 0 {
        micros
    } else {
        micros / 1_000_000 * 1_000_000
    }
}

fn text_of(value: &Value) -> String {
    value.to_pg_text().expect("not NULL")
}

fn random_interval(rng: &mut Rng) -> String {
    let v = Value::Interval(keel_core::types::Interval {
        months: rng.range(-1_000_000, 1_000_000) as i32,
        days: rng.range(-1_000_000, 1_000_000) as i32,
        micros: rng.range(-100_000_000_000_000, 100_000_000_000_000),
    });
    text_of(&v)
}

fn random_ipv4(rng: &mut Rng) -> std::net::Ipv4Addr {
    std::net::Ipv4Addr::from(rng.next() as u32)
}

fn random_ipv6(rng: &mut Rng) -> std::net::Ipv6Addr {
    let mut segments = [0u16; 8];
    for s in &mut segments {
        // Zero runs exercise the `::` compression.
        *s = if rng.next() % 3 == 0 {
            0
        } else {
            rng.next() as u16
        };
    }
    std::net::Ipv6Addr::from(segments)
}

fn network(addr: std::net::IpAddr, prefix: u8) -> std::net::IpAddr {
    match addr {
        std::net::IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let mask = if prefix == 0 {
                0
            } else {
                u32::MAX << (32 - prefix)
            };
            std::net::IpAddr::V4((bits & mask).into())
        }
        std::net::IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let mask = if prefix == 0 {
                0
            } else {
                u128::MAX << (128 - prefix)
            };
            std::net::IpAddr::V6((bits & mask).into())
        }
    }
}

fn scalar_cases(rng: &mut Rng, n: usize) -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |ty: &str, exprs: Vec<String>| {
        cases.push(Case {
            ty: ty.to_owned(),
            exprs,
            bind: true,
        })
    };
    let lits = |ty: &str, texts: Vec<String>| -> Vec<String> {
        texts.iter().map(|t| lit(t, ty)).collect()
    };

    add("bool", lits("bool", vec!["t".into(), "f".into()]));

    let mut chars: Vec<String> = ["a", " ", "", "\"", "\\", "é", "Z", "~"]
        .map(String::from)
        .to_vec();
    chars.extend((0..n).map(|_| char::from(rng.range(1, 127) as u8).to_string()));
    add("\"char\"", lits("\"char\"", chars));

    for (ty, lo, hi) in [
        ("int2", i64::from(i16::MIN), i64::from(i16::MAX)),
        ("int4", i64::from(i32::MIN), i64::from(i32::MAX)),
        ("int8", i64::MIN, i64::MAX),
        ("oid", 0, i64::from(u32::MAX)),
    ] {
        let mut v: Vec<String> = [lo, hi, 0, 1, -1]
            .iter()
            .filter(|x| (lo..=hi).contains(*x))
            .map(i64::to_string)
            .collect();
        v.extend((0..n).map(|_| rng.range(lo, hi).to_string()));
        add(ty, lits(ty, v));
    }

    let mut f8: Vec<String> = [
        "NaN",
        "Infinity",
        "-Infinity",
        "0",
        "-0",
        "1e-300",
        "5e-324",
        "1.7976931348623157e308",
        "0.1",
        "123456789012345",
        "1e15",
        "0.0001",
        "0.00001",
        "3.141592653589793",
    ]
    .map(String::from)
    .to_vec();
    f8.extend((0..n).map(|_| format!("{:e}", random_f64(rng))));
    add("float8", lits("float8", f8));

    let mut f4: Vec<String> = [
        "NaN",
        "Infinity",
        "-Infinity",
        "0",
        "-0",
        "1e-45",
        "3.4028235e38",
        "1.1",
        "100000",
        "1000000",
        "0.0001",
    ]
    .map(String::from)
    .to_vec();
    f4.extend((0..n).map(|_| format!("{:e}", random_f32(rng))));
    add("float4", lits("float4", f4));

    let mut num: Vec<String> = [
        "0",
        "-0.000",
        "NaN",
        "Infinity",
        "-Infinity",
        "1234.5",
        "0.0001",
        "-1.50",
        "10000",
        "99999999.99999999",
    ]
    .map(String::from)
    .to_vec();
    num.push("9".repeat(1000));
    num.push(format!("0.{}1", "0".repeat(16381)));
    num.push(format!("-{}.{}", "1".repeat(500), "2".repeat(500)));
    num.extend((0..n).map(|_| random_numeric(rng)));
    add("numeric", lits("numeric", num));

    let mut texts: Vec<String> = TRICKY_TEXT.iter().map(|s| s.to_string()).collect();
    texts.extend((0..n).map(|_| random_text(rng)));
    for ty in ["text", "varchar", "bpchar", "name"] {
        add(ty, lits(ty, texts.clone()));
    }
    add("char(6)", lits("char(6)", texts.clone()));
    add("varchar(3)", lits("varchar(3)", texts.clone()));

    let mut bytea: Vec<String> = vec!["\\x".into(), "\\x00".into(), "\\xdeadbeef".into()];
    bytea.extend((0..n).map(|_| {
        let len = rng.range(0, 40);
        let hex: String = (0..len)
            .map(|_| format!("{:02x}", rng.next() as u8))
            .collect();
        format!("\\x{hex}")
    }));
    add("bytea", lits("bytea", bytea));

    let mut uuids: Vec<String> = vec![
        "00000000-0000-0000-0000-000000000000".into(),
        "ffffffff-ffff-ffff-ffff-ffffffffffff".into(),
    ];
    uuids.extend((0..n).map(|_| {
        let v = Value::Uuid((rng.next() as u128 | (u128::from(rng.next()) << 64)).to_be_bytes());
        text_of(&v)
    }));
    add("uuid", lits("uuid", uuids));

    let docs: Vec<String> = [
        "null",
        "true",
        "1",
        "-1.50e3",
        "\"str\\\"ing\"",
        "[]",
        "{}",
        "{\"a\": 1, \"a\": 2}",
        "{ \"b\" : [1, 2.50, {\"c\": null}], \"a\":\"日本\" }",
        "[1, \"\\u00e9\", [[]], {\"x\": {\"y\": false}}]",
        "123456789012345678901234567890.000",
    ]
    .map(String::from)
    .to_vec();
    let mut json_docs = docs.clone();
    json_docs.push("\"nul \\u0000 escape\"".into());
    add("json", lits("json", json_docs));
    let mut jsonb_docs = docs;
    jsonb_docs.extend((0..n).map(|_| {
        format!(
            "{{\"k{}\": [{}, {:?}, {}]}}",
            rng.range(0, 99),
            rng.range(-1000, 1000),
            random_text(rng),
            rng.next() % 2 == 0
        )
    }));
    add("jsonb", lits("jsonb", jsonb_docs));

    let mut dates: Vec<String> = [
        "2000-01-01",
        "infinity",
        "-infinity",
        "4713-01-01 BC",
        "5874897-12-31",
        "0001-01-01",
        "0001-12-31 BC",
        "2024-02-29",
        "1970-01-01",
    ]
    .map(String::from)
    .to_vec();
    dates.extend((0..n).map(|_| text_of(&random_date(rng))));
    add("date", lits("date", dates));

    let mut times: Vec<String> = ["00:00:00", "24:00:00", "23:59:59.999999", "12:00:00.5"]
        .map(String::from)
        .to_vec();
    times.extend((0..n).map(|_| {
        text_of(&Value::Time(keel_core::types::Time {
            micros: rng.range(0, 86_400_000_000),
        }))
    }));
    add("time", lits("time", times));

    let mut timetzs: Vec<String> = [
        "00:00:00+00",
        "24:00:00-15:59:59",
        "23:59:59.999999+15:59:59",
        "12:00:00+05:30",
        "01:02:03-08",
        "01:02:03+00:00:01",
    ]
    .map(String::from)
    .to_vec();
    timetzs.extend((0..n).map(|_| {
        text_of(&Value::Timetz(keel_core::types::Timetz {
            micros: rng.range(0, 86_400_000_000),
            offset_west: rng.range(-57_599, 57_599) as i32,
        }))
    }));
    add("timetz", lits("timetz", timetzs));

    let ts_edges = [
        "2000-01-01 00:00:00",
        "infinity",
        "-infinity",
        "4714-11-24 00:00:00 BC",
        "294276-12-31 23:59:59.999999",
        "0001-01-01 00:00:00",
        "0001-12-31 23:59:59.999999 BC",
        "1969-12-31 23:59:59.999999",
    ];
    let mut ts: Vec<String> = ts_edges.map(String::from).to_vec();
    let mut tstz: Vec<String> = ts_edges
        .map(|t| {
            if t.contains("infinity") {
                t.to_string()
            } else if let Some(date) = t.strip_suffix(" BC") {
                format!("{date}+00 BC")
            } else {
                format!("{t}+00")
            }
        })
        .to_vec();
    tstz.push("2024-06-01 12:00:00+05:30".into());
    for _ in 0..n {
        let micros = random_timestamp_micros(rng);
        let t = keel_core::types::Timestamp::Micros(micros);
        ts.push(text_of(&Value::Timestamp(t)));
        tstz.push(text_of(&Value::Timestamptz(t)));
    }
    add("timestamp", lits("timestamp", ts));
    add("timestamptz", lits("timestamptz", tstz));

    let mut intervals: Vec<String> = [
        "0",
        "1 year 2 mons 3 days 04:05:06.789",
        "-1 days +01:00:00",
        "1 day -00:00:00.000001",
        "178000000 years",
        "-178000000 years",
        "-2147483648 days",
        "2562047788:00:54.775807",
        "-2562047788:00:54.775807",
    ]
    .map(String::from)
    .to_vec();
    intervals.extend((0..n).map(|_| random_interval(rng)));
    add("interval", lits("interval", intervals));

    let mut inets: Vec<String> = [
        "1.2.3.4",
        "1.2.3.4/24",
        "0.0.0.0/0",
        "::1",
        "::",
        "::ffff:1.2.3.4",
        "::1.2.3.4",
        "2001:db8::1/64",
        "fe80::1:0:0:1",
    ]
    .map(String::from)
    .to_vec();
    let mut cidrs: Vec<String> = [
        "10.0.0.0/8",
        "0.0.0.0/0",
        "::/0",
        "2001:db8::/32",
        "1.2.3.4/32",
    ]
    .map(String::from)
    .to_vec();
    for _ in 0..n {
        let (addr, max) = if rng.next() % 2 == 0 {
            (std::net::IpAddr::V4(random_ipv4(rng)), 32)
        } else {
            (std::net::IpAddr::V6(random_ipv6(rng)), 128)
        };
        let prefix = rng.range(0, max) as u8;
        inets.push(format!("{addr}/{prefix}"));
        cidrs.push(format!("{}/{prefix}", network(addr, prefix)));
    }
    add("inet", lits("inet", inets));
    add("cidr", lits("cidr", cidrs));

    let mut macs: Vec<String> = vec!["00:00:00:00:00:00".into(), "ff:ff:ff:ff:ff:ff".into()];
    macs.extend((0..n).map(|_| {
        let b = rng.next().to_be_bytes();
        text_of(&Value::Macaddr([b[0], b[1], b[2], b[3], b[4], b[5]]))
    }));
    add("macaddr", lits("macaddr", macs));

    cases
}

/// An enum (read as text, bound as its label) and domains (read and bound
/// as their base type).
fn user_defined_cases(rng: &mut Rng, n: usize) -> Vec<Case> {
    let labels = ["sad", "ok", "happy days", "quote\"d", "ünï", "NULL", ""];
    let mut moods: Vec<String> = labels.iter().map(|l| lit(l, "pg_temp.mood")).collect();
    moods.extend((0..n).map(|_| lit(rng.pick::<&str>(&labels), "pg_temp.mood")));
    let mut posints: Vec<String> = ["1", "2147483647"]
        .map(|v| lit(v, "pg_temp.posint"))
        .to_vec();
    posints.extend((0..n).map(|_| {
        lit(
            &rng.range(1, i64::from(i32::MAX)).to_string(),
            "pg_temp.posint",
        )
    }));
    let mut codes: Vec<String> = ["", "abcd", "é日"].map(|v| lit(v, "pg_temp.code")).to_vec();
    codes.extend((0..n).map(|_| {
        let text: String = random_text(rng).chars().take(4).collect();
        lit(&text, "pg_temp.code")
    }));
    [
        ("pg_temp.mood", moods),
        ("pg_temp.posint", posints),
        ("pg_temp.code", codes),
    ]
    .into_iter()
    .map(|(ty, exprs)| Case {
        ty: ty.into(),
        exprs,
        bind: true,
    })
    .collect()
}

fn range_cases(rng: &mut Rng, n: usize) -> Vec<Case> {
    let common = ["empty", "(,)"];
    let mut out = Vec::new();
    let mut make = |ty: &str, extra: &[&str], gen: &mut dyn FnMut(&mut Rng) -> (String, String)| {
        let mut texts: Vec<String> = common.iter().chain(extra).map(|s| s.to_string()).collect();
        for _ in 0..n {
            let (a, b) = gen(rng);
            let lower = *rng.pick(&["[", "("]);
            let upper = *rng.pick(&["]", ")"]);
            texts.push(format!("{lower}{a},{b}{upper}"));
        }
        out.push(Case {
            ty: ty.to_owned(),
            exprs: texts.iter().map(|t| lit(t, ty)).collect(),
            bind: true,
        });
    };
    make(
        "int4range",
        &[
            "[1,10)",
            "(1,2]",
            "[-2147483648,2147483647)",
            "(,5]",
            "[3,)",
        ],
        &mut |r| {
            let a = r.range(-1_000_000, 1_000_000);
            (a.to_string(), (a + r.range(2, 1000)).to_string())
        },
    );
    make(
        "int8range",
        &["[-9223372036854775808,9223372036854775807)", "(,5]"],
        &mut |r| {
            let a = r.range(i64::MIN / 2, i64::MAX / 2);
            (a.to_string(), (a + r.range(2, 1 << 40)).to_string())
        },
    );
    make(
        "numrange",
        &["[1.5,2.25]", "(-Infinity,Infinity)", "[NaN,NaN]", "[3,)"],
        &mut |r| {
            let a = r.range(-1_000_000, 1_000_000);
            (format!("{a}.{}", r.range(0, 999)), format!("{}.5", a + 1))
        },
    );
    make(
        "daterange",
        &[
            "[2000-01-01,infinity)",
            "[-infinity,2000-01-01]",
            "(,2000-01-01]",
        ],
        &mut |r| {
            let days = r.range(-700_000, 700_000);
            let a = Value::Date(keel_core::types::Date::Days(days as i32));
            let b = Value::Date(keel_core::types::Date::Days(
                (days + r.range(2, 5000)) as i32,
            ));
            (text_of(&a), text_of(&b))
        },
    );
    make(
        "tsrange",
        &["[\"2000-01-01 00:00:00\",infinity)", "[-infinity,infinity]"],
        &mut |r| {
            let a = r.range(-60_000_000_000_000_000, 60_000_000_000_000_000);
            let b = a + r.range(1, 1_000_000_000_000);
            let t = |m| text_of(&Value::Timestamp(keel_core::types::Timestamp::Micros(m)));
            (format!("\"{}\"", t(a)), format!("\"{}\"", t(b)))
        },
    );
    make(
        "tstzrange",
        &["[\"2000-01-01 00:00:00+00\",infinity)"],
        &mut |r| {
            let a = r.range(-60_000_000_000_000_000, 60_000_000_000_000_000);
            let b = a + r.range(1, 1_000_000_000_000);
            let t = |m| text_of(&Value::Timestamptz(keel_core::types::Timestamp::Micros(m)));
            (format!("\"{}\"", t(a)), format!("\"{}\"", t(b)))
        },
    );
    out
}

fn record_case(rng: &mut Rng, n: usize) -> Case {
    let mut exprs: Vec<String> = [
        "ROW()",
        "ROW(1, 'a b', NULL, 2.50::numeric, true)",
        "ROW('', '\"q\"', 'back\\slash', '(paren)', 'comma,here')",
        "ROW(ROW(1, 'x'), ARRAY[1, NULL, 3], '[1,5)'::int4range)",
        "ROW('2000-01-01'::date, '1 day'::interval, '::1'::inet, '\\x00ff'::bytea)",
        "ROW(NULL::int4, NULL::text)",
        "ROW(ROW(ROW(ROW(42))))",
    ]
    .map(String::from)
    .to_vec();
    for _ in 0..n {
        exprs.push(format!(
            "ROW({}, {}, {}::float8, {})",
            rng.range(-1000, 1000),
            lit(&random_text(rng), "text"),
            format_args!("'{:e}'", random_f64(rng)),
            if rng.next() % 3 == 0 {
                "NULL"
            } else {
                "'{1,2}'::int4[]"
            },
        ));
    }
    Case {
        ty: "record".into(),
        exprs,
        bind: false,
    }
}

/// Arrays built from the scalar expressions: one- and two-dimensional,
/// with NULLs, non-default lower bounds, and empty.
fn array_case(scalar: &Case, rng: &mut Rng) -> Case {
    let ty = format!("{}[]", scalar.ty);
    let e = &scalar.exprs;
    let mut exprs = vec![format!("'{{}}'::{ty}")];
    let pick = |rng: &mut Rng| e[rng.next() as usize % e.len()].clone();
    for _ in 0..e.len().clamp(4, 40) {
        let (a, b, c) = (pick(rng), pick(rng), pick(rng));
        exprs.push(format!("ARRAY[{a}]::{ty}"));
        exprs.push(format!("ARRAY[{a}, NULL, {b}]::{ty}"));
        exprs.push(format!("ARRAY[[{a}, {b}], [NULL, {c}]]::{ty}"));
        if scalar.bind {
            exprs.push(format!(
                "('[-3:-2][7:8]=' || (ARRAY[[{a}, {b}], [{c}, NULL]]::{ty})::text)::{ty}"
            ));
            exprs.push(format!("('[0:1]=' || (ARRAY[{b}, {c}]::{ty})::text)::{ty}"));
        }
    }
    Case {
        ty,
        exprs,
        bind: scalar.bind,
    }
}

#[derive(Default)]
struct Tally {
    checked: usize,
    bound: usize,
    mismatches: Vec<String>,
}

async fn query(
    client: &Client<Tcp>,
    sql: &str,
    oids: &[u32],
    params: &[Option<Vec<u8>>],
) -> keel_core::RawRows {
    client
        .query_raw(sql, oids, params)
        .await
        .unwrap_or_else(|e| panic!("{e}\nin: {}", sql.chars().take(300).collect::<String>()))
}

async fn check_case(client: &Client<Tcp>, case: &Case, tally: &mut Tally) {
    for chunk in case.exprs.chunks(100) {
        let values: Vec<String> = chunk.iter().map(|e| format!("({e})")).collect();
        let sql = format!(
            "SELECT v, format('%s', v) FROM (VALUES {}) AS t(v)",
            values.join(", ")
        );
        let rows = query(client, &sql, &[], &[]).await;
        let oid = rows.columns()[0].type_oid;
        // Types the codec does not know (enums) arrive as text, as promised.
        let text_format = rows.columns()[0].format == 0;
        let ty = match PgType::from_oid(oid) {
            Some(ty) => ty,
            None if text_format => PgType::Text,
            None => panic!("{}: OID {oid} arrived in binary", case.ty),
        };
        for (row, expr) in rows.iter().zip(chunk) {
            let server_text = row.get(1).map(|b| String::from_utf8(b.to_vec()).unwrap());
            let Some(bytes) = row.get(0) else {
                continue;
            };
            tally.checked += 1;
            let value = match Value::decode_binary(&ty, bytes) {
                Ok(value) => value,
                Err(e) => {
                    tally.mismatches.push(format!("{expr}: decode failed: {e}"));
                    continue;
                }
            };
            if value.to_pg_text() != server_text {
                tally.mismatches.push(format!(
                    "{expr}: keel renders {:?}, server {:?}",
                    value.to_pg_text(),
                    server_text
                ));
            }
            let encoded = value.encode_binary().ok().flatten();
            if encoded.as_deref() != Some(bytes) {
                tally.mismatches.push(format!(
                    "{expr}: re-encoding gives {encoded:?}, server sent {bytes:?}"
                ));
                continue;
            }
            // A text-format array cannot be bound back as binary.
            if !case.bind || (text_format && case.ty.ends_with("[]")) {
                continue;
            }
            let sql = format!("SELECT $1::{0}, format('%s', $1::{0})", case.ty);
            let back = query(client, &sql, &[oid], &[encoded]).await;
            let back_row = back.iter().next().expect("one row");
            tally.bound += 1;
            if back_row.get(0) != Some(bytes) {
                tally.mismatches.push(format!(
                    "{expr}: bound value came back as {:?}",
                    back_row.get(0)
                ));
            }
            let back_text = back_row
                .get(1)
                .map(|b| String::from_utf8(b.to_vec()).unwrap());
            if back_text != server_text {
                tally.mismatches.push(format!(
                    "{expr}: bound value renders {back_text:?}, expected {server_text:?}"
                ));
            }
        }
    }
}

#[tokio::test]
async fn every_type_matches_the_server() {
    let Some(url) = engine_support::database() else {
        return;
    };
    let client = engine_support::client(&url, engine_support::config(&url)).await;
    for set in [
        "SET TimeZone = 'UTC'",
        "SET DateStyle = 'ISO'",
        "SET IntervalStyle = 'postgres'",
        "SET extra_float_digits = 1",
        "SET bytea_output = 'hex'",
    ] {
        query(&client, set, &[], &[]).await;
    }
    let n: usize = std::env::var("KEEL_TYPES_RANDOM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    query(
        &client,
        "CREATE TYPE pg_temp.mood AS ENUM ('sad', 'ok', 'happy days', 'quote\"d', 'ünï', 'NULL', '')",
        &[],
        &[],
    )
    .await;
    query(
        &client,
        "CREATE DOMAIN pg_temp.posint AS int4 CHECK (VALUE > 0)",
        &[],
        &[],
    )
    .await;
    query(
        &client,
        "CREATE DOMAIN pg_temp.code AS varchar(4)",
        &[],
        &[],
    )
    .await;
    let mut rng = Rng(0x6b65_656c_2d74_7970);
    let mut cases = scalar_cases(&mut rng, n);
    cases.extend(user_defined_cases(&mut rng, n));
    cases.extend(range_cases(&mut rng, n));
    cases.push(record_case(&mut rng, n));
    let arrays: Vec<Case> = cases.iter().map(|c| array_case(c, &mut rng)).collect();
    cases.extend(arrays);

    let mut tally = Tally::default();
    for case in &cases {
        let before = tally.checked;
        check_case(&client, case, &mut tally).await;
        assert!(tally.checked > before, "{}: no values checked", case.ty);
    }
    println!(
        "types_differential: {} values of {} types decoded and compared, {} bound round trips, {} mismatches",
        tally.checked,
        cases.len(),
        tally.bound,
        tally.mismatches.len()
    );
    let shown: Vec<&String> = tally.mismatches.iter().take(40).collect();
    assert!(tally.mismatches.is_empty(), "mismatches:\n{shown:#?}");
}
