//! `#[derive(Model)]`, typed column handles and the builder produce the same
//! AST as the JSON form, and so byte-identical SQL and parameters.

#![allow(dead_code)]

use std::collections::BTreeMap;

use keel_core::query::typed::{Model, SqlValue};
use keel_core::query::{
    AggFunc, Delete, Direction, Expr, Filter, Include, Insert, JoinKind, LockStrength, LockWait,
    Nulls, OrderBy, SetOp, SetQuery, Update,
};
use keel_core::types::Timestamp;
use keel_core::{compile, Query, Schema};

#[derive(Model)]
struct Artist {
    #[keel(primary_key, default = "0")]
    artist_id: i32,
    name: String,
    #[keel(default = "'{}'")]
    tags: Vec<String>,
    profile: Option<serde_json::Value>,
}

#[derive(Model)]
struct Album {
    #[keel(primary_key)]
    album_id: i32,
    #[keel(belongs_to = "artist", inverse = "albums")]
    artist_id: i32,
    title: String,
    #[keel(type = "mood")]
    mood: Option<String>,
    #[keel(type = "date")]
    released_on: Option<String>,
}

#[derive(Model)]
#[keel(table = "track")]
#[keel(many_to_many(name = "playlists", through = "playlist_track", target = "playlist"))]
struct Song {
    #[keel(primary_key)]
    track_id: i32,
    #[keel(belongs_to = "album", references = "album", inverse = "tracks")]
    album_id: i32,
    /// Renamed: the field is `title`, the column `name`.
    #[keel(rename = "name")]
    title: String,
    composer: Option<String>,
    milliseconds: i64,
    #[keel(type = "numeric")]
    unit_price: String,
    #[keel(default = "0")]
    stock: i32,
    #[keel(type = "rating")]
    rating: Option<i16>,
    released_at: Option<Timestamp>,
    lyrics: Option<String>,
    #[keel(skip)]
    cached_label: String,
}

#[derive(Model)]
#[keel(many_to_many(name = "tracks", through = "playlist_track", target = "track"))]
struct Playlist {
    #[keel(primary_key)]
    playlist_id: i32,
    name: String,
}

#[derive(Model)]
struct PlaylistTrack {
    #[keel(primary_key, belongs_to = "playlist", inverse = "entries")]
    playlist_id: i32,
    #[keel(primary_key, belongs_to = "track", inverse = "playlist_entries")]
    track_id: i32,
}

#[derive(Model)]
struct Employee {
    #[keel(primary_key)]
    employee_id: i32,
    name: String,
    #[keel(belongs_to = "manager", references = "employee", inverse = "reports")]
    reports_to: Option<i32>,
}

fn schema() -> Schema {
    Schema::from_json(include_str!("golden/schema.json")).unwrap()
}

#[test]
fn derived_tables_match_the_schema() {
    let schema = schema();
    for derived in [
        Artist::table(),
        Album::table(),
        Song::table(),
        Playlist::table(),
        PlaylistTrack::table(),
        Employee::table(),
    ] {
        let declared = schema.table(&derived.name).unwrap();
        assert_eq!(derived.columns, declared.columns, "{}", derived.name);
        assert_eq!(
            derived.primary_key, declared.primary_key,
            "{}",
            derived.name
        );
        assert_eq!(
            derived.many_to_many, declared.many_to_many,
            "{}",
            derived.name
        );
        let strip = |t: &keel_core::schema::Table| {
            t.foreign_keys
                .iter()
                .map(|fk| {
                    (
                        fk.columns.clone(),
                        fk.references.clone(),
                        fk.relation.clone(),
                        fk.inverse.clone(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&derived), strip(declared), "{}", derived.name);
    }
    assert_eq!(Song::TABLE, "track");
    assert_eq!(PlaylistTrack::TABLE, "playlist_track");
}

fn row(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// (typed query, its JSON form).
fn pairs() -> Vec<(Query, &'static str)> {
    vec![
        // The example of docs/query-format.md, "From Rust".
        (
            Song::select()
                .columns([Song::track_id.name(), Song::title.name()])
                .filter(Song::album_id.eq(1))
                .filter(Song::unit_price.gt("0.99"))
                .order(Song::track_id.desc())
                .limit(3)
                .into(),
            r#"{"version": 1, "select": {"from": "track", "columns": ["track_id", "name"], "where": {"and": [{"eq": {"column": "album_id", "value": 1}}, {"gt": {"column": "unit_price", "value": "0.99"}}]}, "order_by": [{"column": "track_id", "direction": "desc"}], "limit": 3}}"#,
        ),
        (
            Song::select()
                .columns([Song::track_id.name(), Song::title.name()])
                .filter(Song::album_id.eq(1))
                .order_by(Song::track_id.name(), Direction::Desc)
                .limit(3)
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["track_id","name"],"where":{"eq":{"column":"album_id","value":1}},"order_by":[{"column":"track_id","direction":"desc"}],"limit":3}}"#,
        ),
        (
            Song::select()
                .columns([Song::title.name()])
                .filter(Song::unit_price.gt("0.99"))
                .filter(Song::composer.is_null())
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["name"],"where":{"and":[{"gt":{"column":"unit_price","value":"0.99"}},{"is_null":"composer"}]}}}"#,
        ),
        (
            Song::select()
                .columns([Song::track_id.name()])
                .filter(Song::album_id.is_in([1, 2, 3]))
                .filter(Song::title.not_in(["a", "b"]))
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["track_id"],"where":{"and":[{"in":{"column":"album_id","values":[1,2,3]}},{"not_in":{"column":"name","values":["a","b"]}}]}}}"#,
        ),
        (
            Song::select()
                .columns([Song::track_id.name()])
                .filter(Filter::or([
                    Song::milliseconds.between(1000_i64, 2000_i64),
                    Song::title.like("A%"),
                    Song::composer.ilike("%bach%"),
                ]))
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["track_id"],"where":{"or":[{"between":{"column":"milliseconds","low":1000,"high":2000}},{"like":{"column":"name","pattern":"A%"}},{"ilike":{"column":"composer","pattern":"%bach%"}}]}}}"#,
        ),
        (
            Song::select()
                .columns([Song::track_id.name()])
                .filter(Song::composer.eq("Bach"))
                .filter(Song::rating.is_distinct_from(None::<i16>))
                .filter(Filter::not(Song::stock.lte(0)))
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["track_id"],"where":{"and":[{"eq":{"column":"composer","value":"Bach"}},{"is_distinct_from":{"column":"rating","value":null}},{"not":{"lte":{"column":"stock","value":0}}}]}}}"#,
        ),
        (
            Song::select()
                .columns([Song::title.name(), Album::title.via("album").name()])
                .join("album", JoinKind::Inner)
                .filter(Album::title.via("album").eq("Let It Be"))
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["name","album.title"],"joins":[{"relation":"album","kind":"inner"}],"where":{"eq":{"column":"album.title","value":"Let It Be"}}}}"#,
        ),
        (
            Album::select()
                .columns([Album::title.name()])
                .expr(Song::title.via("tracks").expr(), "track_name")
                .join("tracks", JoinKind::Left)
                .into(),
            r#"{"version":1,"select":{"from":"album","columns":["title",{"expr":{"column":"tracks.name"},"as":"track_name"}],"joins":[{"relation":"tracks","kind":"left"}]}}"#,
        ),
        (
            Album::select()
                .columns([Album::title.name()])
                .filter(Filter::has(
                    "tracks",
                    Some(Song::milliseconds.gt(600000_i64)),
                ))
                .into(),
            r#"{"version":1,"select":{"from":"album","columns":["title"],"where":{"has":{"relation":"tracks","where":{"gt":{"column":"milliseconds","value":600000}}}}}}"#,
        ),
        (
            Song::select()
                .columns([Song::track_id.name()])
                .order(Song::composer.asc().nulls(Nulls::Last))
                .order(OrderBy::expr(
                    Expr::func("lower", [Song::title.expr()]),
                    Direction::Desc,
                ))
                .limit(10)
                .offset(20)
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["track_id"],"order_by":[{"column":"composer","direction":"asc","nulls":"last"},{"expr":{"func":{"name":"lower","args":[{"column":"name"}]}},"direction":"desc"}],"limit":10,"offset":20}}"#,
        ),
        (
            Song::select()
                .columns([Song::track_id.name()])
                .order(Song::album_id.asc())
                .order(Song::track_id.asc())
                .after([3.to_json(), 1201.to_json()])
                .limit(50)
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["track_id"],"order_by":[{"column":"album_id"},{"column":"track_id"}],"after":[3,1201],"limit":50}}"#,
        ),
        (
            Song::select()
                .columns([Song::album_id.name()])
                .expr(Expr::count_all(), "tracks")
                .expr(Expr::count_distinct(Song::composer.expr()), "composers")
                .expr(
                    Expr::agg(AggFunc::Sum, Some(Song::milliseconds.expr())),
                    "total",
                )
                .expr(Expr::string_agg(Song::title.expr(), ", "), "names")
                .group_by([Song::album_id.expr()])
                .having(Filter::Gt(keel_core::query::Compare::Exprs {
                    left: Expr::count_all(),
                    right: Expr::value(5),
                }))
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["album_id",{"expr":{"agg":{"func":"count"}},"as":"tracks"},{"expr":{"agg":{"func":"count","arg":{"column":"composer"},"distinct":true}},"as":"composers"},{"expr":{"agg":{"func":"sum","arg":{"column":"milliseconds"}}},"as":"total"},{"expr":{"agg":{"func":"string_agg","arg":{"column":"name"},"separator":", "}},"as":"names"}],"group_by":[{"column":"album_id"}],"having":{"gt":{"left":{"agg":{"func":"count"}},"right":{"value":5}}}}}"#,
        ),
        (
            Song::select()
                .distinct()
                .columns([Song::composer.name()])
                .into(),
            r#"{"version":1,"select":{"from":"track","distinct":true,"columns":["composer"]}}"#,
        ),
        (
            Song::select()
                .distinct_on([Song::album_id.expr()])
                .columns([Song::album_id.name(), Song::title.name()])
                .order(Song::album_id.asc())
                .order(Song::milliseconds.desc())
                .into(),
            r#"{"version":1,"select":{"from":"track","distinct_on":[{"column":"album_id"}],"columns":["album_id","name"],"order_by":[{"column":"album_id"},{"column":"milliseconds","direction":"desc"}]}}"#,
        ),
        (
            Song::select()
                .columns([Song::title.name()])
                .filter(
                    Song::album_id.in_subquery(
                        Album::select()
                            .columns([Album::album_id.name()])
                            .filter(Album::artist_id.eq(1)),
                    ),
                )
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["name"],"where":{"in":{"column":"album_id","subquery":{"from":"album","columns":["album_id"],"where":{"eq":{"column":"artist_id","value":1}}}}}}}"#,
        ),
        (
            Album::select()
                .columns([Album::title.name()])
                .expr(
                    Expr::Subquery(Box::new(
                        Song::select()
                            .expr(Expr::count_all(), "n")
                            .filter(Filter::Eq(keel_core::query::Compare::Exprs {
                                left: Song::album_id.via("track").expr(),
                                right: Album::album_id.via("album").expr(),
                            })),
                    )),
                    "track_count",
                )
                .into(),
            r#"{"version":1,"select":{"from":"album","columns":["title",{"expr":{"subquery":{"from":"track","columns":[{"expr":{"agg":{"func":"count"}},"as":"n"}],"where":{"eq":{"left":{"column":"track.album_id"},"right":{"column":"album.album_id"}}}}},"as":"track_count"}]}}"#,
        ),
        (
            SetQuery {
                op: SetOp::Union,
                queries: vec![
                    Artist::select().columns([Artist::name.name()]),
                    Playlist::select().columns([Playlist::name.name()]),
                ],
                order_by: vec![OrderBy::column("name", Direction::Asc)],
                limit: Some(10),
                offset: None,
            }
            .into(),
            r#"{"version":1,"set_op":{"op":"union","queries":[{"from":"artist","columns":["name"]},{"from":"playlist","columns":["name"]}],"order_by":[{"column":"name"}],"limit":10}}"#,
        ),
        (
            Song::select()
                .columns([Song::track_id, Song::stock].map(String::from))
                .filter(Song::track_id.eq(7))
                .lock(LockStrength::Update, Some(LockWait::SkipLocked))
                .into(),
            r#"{"version":1,"select":{"from":"track","columns":["track_id","stock"],"where":{"eq":{"column":"track_id","value":7}},"lock":{"strength":"update","wait":"skip_locked"}}}"#,
        ),
        (
            Insert::rows(
                Song::TABLE,
                [row(&[
                    ("track_id", 1.to_json()),
                    ("album_id", 1.to_json()),
                    ("name", "Intro".to_owned().to_json()),
                    ("milliseconds", 1000_i64.to_json()),
                    ("unit_price", "0.99".to_owned().to_json()),
                ])],
            )
            .returning([Song::track_id, Song::stock].map(String::from))
            .into(),
            r#"{"version":1,"insert":{"into":"track","rows":[{"track_id":1,"album_id":1,"name":"Intro","milliseconds":1000,"unit_price":"0.99"}],"returning":["track_id","stock"]}}"#,
        ),
        (
            Insert::rows(
                Playlist::TABLE,
                [row(&[
                    ("playlist_id", 1.to_json()),
                    ("name", "Mix".to_owned().to_json()),
                ])],
            )
            .on_conflict_update(
                [Playlist::playlist_id.name()],
                BTreeMap::from([(Playlist::name.name(), Expr::Excluded(Playlist::name.name()))]),
                Some(Playlist::name.via("playlist").ne("Locked")),
            )
            .into(),
            r#"{"version":1,"insert":{"into":"playlist","rows":[{"playlist_id":1,"name":"Mix"}],"on_conflict":{"columns":["playlist_id"],"do":{"update":{"set":{"name":{"excluded":"name"}},"where":{"ne":{"column":"playlist.name","value":"Locked"}}}}}}}"#,
        ),
        (
            Insert::rows(
                Playlist::TABLE,
                [row(&[
                    ("playlist_id", 1.to_json()),
                    ("name", "Mix".to_owned().to_json()),
                ])],
            )
            .on_conflict_do_nothing([Playlist::playlist_id.name()])
            .into(),
            r#"{"version":1,"insert":{"into":"playlist","rows":[{"playlist_id":1,"name":"Mix"}],"on_conflict":{"columns":["playlist_id"],"do":"nothing"}}}"#,
        ),
        (
            Update::table(Song::TABLE)
                .set(Song::stock.name(), Song::stock.expr() - 1)
                .filter(Song::track_id.eq(7))
                .returning([Song::stock.name()])
                .into(),
            r#"{"version":1,"update":{"table":"track","set":{"stock":{"sub":[{"column":"stock"},{"value":1}]}},"where":{"eq":{"column":"track_id","value":7}},"returning":["stock"]}}"#,
        ),
        (
            Delete::from(Song::TABLE)
                .filter(Song::stock.lt(0))
                .returning([Song::track_id.name()])
                .into(),
            r#"{"version":1,"delete":{"from":"track","where":{"lt":{"column":"stock","value":0}},"returning":["track_id"]}}"#,
        ),
        (
            Artist::select()
                .columns([Artist::name.name()])
                .filter(Filter::JsonContains(
                    keel_core::query::filter::ColumnValue {
                        column: Artist::profile.name(),
                        value: serde_json::json!({"active": true}),
                    },
                ))
                .expr(Artist::profile.expr().json_text("country"), "country")
                .into(),
            r#"{"version":1,"select":{"from":"artist","columns":["name",{"expr":{"json_text":{"expr":{"column":"profile"},"key":"country"}},"as":"country"}],"where":{"json_contains":{"column":"profile","value":{"active":true}}}}}"#,
        ),
    ]
}

#[test]
fn typed_queries_and_their_json_compile_to_identical_sql() {
    let schema = schema();
    let pairs = pairs();
    assert!(pairs.len() >= 20, "only {} pairs", pairs.len());
    for (typed, json) in pairs {
        let parsed = Query::from_json(json).unwrap_or_else(|e| panic!("{e}: {json}"));
        assert_eq!(typed, parsed, "AST differs for {json}");
        let a = compile(&typed, &schema).unwrap_or_else(|e| panic!("{e}: {json}"));
        let b = compile(&parsed, &schema).unwrap();
        assert_eq!(a.sql, b.sql);
        assert_eq!(a.params, b.params);
        assert_eq!(a.param_types, b.param_types);
        assert_eq!(a.columns, b.columns);
    }
}

#[test]
fn eager_loading_from_the_builder() {
    let typed: Query = Artist::select()
        .columns([Artist::name.name()])
        .with(Include::relation("albums").with(Include::relation("tracks")))
        .into();
    let json = Query::from_json(
        r#"{"version":1,"select":{"from":"artist","columns":["name"],"with":[{"relation":"albums","with":[{"relation":"tracks"}]}]}}"#,
    )
    .unwrap();
    assert_eq!(typed, json);
    let plan = keel_core::compile::compile_plan(&typed, &schema()).unwrap();
    assert_eq!(plan.loads[0].loads[0].relation, "tracks");
}
