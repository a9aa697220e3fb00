//! The model-level Db API (find/one/get/count/exists, writes, raw SQL) on a
//! pooled driver, against keel's fixture, scratch tables and Chinook.

mod common;

use keel_native::orm::{FromRow, OrmError, Patch, ToRow};
use keel_native::query::expr::{AggFunc, Expr};
use keel_native::query::typed::Model;
use keel_native::schema::Unique;
use keel_native::types::{PgType, Timestamp};
use keel_native::{Db, Pool, Schema, Value};
use keel_testkit::{chinook_url, database_url};

const MUSIC_SCHEMA: &str = include_str!("../../examples/music/schema.json");
const CHINOOK_SCHEMA: &str = include_str!("../../tests/corpus/chinook/schema.json");

#[derive(Model, FromRow, Debug, Clone, PartialEq)]
struct Track {
    #[keel(primary_key)]
    track_id: i32,
    album_id: i32,
    name: String,
    composer: Option<String>,
    milliseconds: i64,
    bytes: Option<i64>,
    #[keel(type = "numeric")]
    unit_price: String,
    rating: Option<f64>,
    explicit: bool,
    released_at: Option<Timestamp>,
}

async fn music(app: &str) -> Option<Db<Pool>> {
    let url = database_url()?;
    let pool = common::pool(&url, app, common::settings(4)).await;
    Some(Db::new(pool, Schema::from_json(MUSIC_SCHEMA).unwrap()))
}

fn names(tracks: &[Track]) -> Vec<&str> {
    tracks.iter().map(|t| t.name.as_str()).collect()
}

#[tokio::test]
async fn queries_return_models() {
    let Some(db) = music("keel_orm_read").await else {
        return;
    };
    let all = db
        .find::<Track>()
        .filter(Track::album_id.eq(1))
        .order(Track::track_id.asc())
        .all()
        .await
        .unwrap();
    assert_eq!(
        names(&all),
        [
            "Cast Off",
            "Low Tide",
            "Bilge Pump Blues",
            "Keel Over",
            "Anchor's \"Aweigh\""
        ]
    );
    assert_eq!(all[3].unit_price, "12345678.90");
    assert_eq!(all[2].composer.as_deref(), Some("M. Rivers, K. Ng"));
    assert_eq!(all[2].milliseconds, 9_007_199_254_740_993);

    let page = db
        .find::<Track>()
        .exclude(Track::explicit.eq(true))
        .order(Track::track_id.asc())
        .offset(1)
        .limit(2)
        .all()
        .await
        .unwrap();
    assert_eq!(names(&page), ["Low Tide", "Keel Over"]);

    let after = db
        .find::<Track>()
        .order(Track::track_id.asc())
        .after([serde_json::json!(6)])
        .all()
        .await
        .unwrap();
    assert_eq!(names(&after), ["Note G", "Überfahrt"]);

    let first = db
        .find::<Track>()
        .order(Track::track_id.desc())
        .first()
        .await
        .unwrap();
    assert_eq!(first.map(|t| t.track_id), Some(8));
    assert!(db
        .find::<Track>()
        .filter(Track::track_id.eq(999))
        .first()
        .await
        .unwrap()
        .is_none());

    assert_eq!(db.get::<Track>(7).await.unwrap().name, "Note G");
    assert!(matches!(
        db.get::<Track>(999).await,
        Err(OrmError::NotFound { model: "track" })
    ));
    assert!(matches!(
        db.find::<Track>().filter(Track::album_id.eq(1)).one().await,
        Err(OrmError::MultipleRows { model: "track" })
    ));
    assert_eq!(
        db.find::<Track>()
            .filter(Track::album_id.eq(2))
            .one()
            .await
            .unwrap()
            .name,
        "Scaffolding"
    );

    assert_eq!(db.find::<Track>().count().await.unwrap(), 8);
    assert_eq!(
        db.find::<Track>()
            .filter(Track::explicit.eq(true))
            .count()
            .await
            .unwrap(),
        2
    );
    assert!(db
        .find::<Track>()
        .filter(Track::name.like("%Tide"))
        .exists()
        .await
        .unwrap());
    assert!(!db
        .find::<Track>()
        .filter(Track::name.like("%nothing%"))
        .exists()
        .await
        .unwrap());

    // Scalars: aggregates over the filtered rows, checked against SQL.
    let expected = db
        .raw::<Totals>(
            "SELECT max(bytes) AS max_bytes, sum(milliseconds)::text AS total FROM track WHERE album_id = 1",
            vec![],
        )
        .await
        .unwrap()
        .remove(0);
    let album_one = || db.find::<Track>().filter(Track::album_id.eq(1));
    let max_bytes: Option<i64> = album_one()
        .scalar(Expr::agg(AggFunc::Max, Some(Track::bytes.expr())))
        .await
        .unwrap();
    assert_eq!(max_bytes, expected.max_bytes);
    // sum(int8) is numeric in PostgreSQL, read exactly as a string.
    let total: String = album_one()
        .order(Track::track_id.asc())
        .limit(1)
        .scalar(Expr::agg(AggFunc::Sum, Some(Track::milliseconds.expr())))
        .await
        .unwrap();
    assert_eq!(total, expected.total);
    let none: Option<i64> = db
        .find::<Track>()
        .filter(Track::album_id.eq(-1))
        .scalar(Expr::agg(AggFunc::Max, Some(Track::bytes.expr())))
        .await
        .unwrap();
    assert_eq!(none, None);
    assert!(matches!(
        db.find::<Track>()
            .scalar::<i32>(Track::track_id.expr())
            .await,
        Err(OrmError::Usage { model: "track", .. })
    ));

    let rows = db
        .find::<Track>()
        .filter(Track::track_id.lte(2))
        .order(Track::track_id.asc())
        .values([Track::name.name()])
        .await
        .unwrap();
    assert_eq!(rows.columns, ["name"]);
    assert_eq!(
        rows.rows,
        [
            vec![Value::Text("Cast Off".into())],
            vec![Value::Text("Low Tide".into())]
        ]
    );
}

#[derive(FromRow, Debug)]
struct Totals {
    max_bytes: Option<i64>,
    total: String,
}

#[derive(FromRow, Debug, PartialEq)]
struct AlbumCount {
    title: String,
    tracks: i64,
}

#[tokio::test]
async fn raw_sql_maps_to_structs_by_column_name() {
    let Some(db) = music("keel_orm_raw").await else {
        return;
    };
    let found = db
        .raw::<AlbumCount>(
            "SELECT a.title, count(*) AS tracks FROM album a JOIN track t USING (album_id) \
             WHERE t.unit_price < $1 GROUP BY a.title ORDER BY tracks DESC, a.title",
            vec![(serde_json::json!("1.00"), PgType::Numeric)],
        )
        .await
        .unwrap();
    assert_eq!(
        found,
        [
            AlbumCount {
                title: "Harbour Lights".into(),
                tracks: 3
            },
            AlbumCount {
                title: "Dry Dock".into(),
                tracks: 1
            },
            AlbumCount {
                title: "Ünïcödé Sessions".into(),
                tracks: 1
            },
        ]
    );
    // A column the struct needs but the SQL does not select is a clear error.
    let error = db
        .raw::<AlbumCount>("SELECT 'x' AS title", vec![])
        .await
        .unwrap_err();
    assert!(
        matches!(&error, OrmError::Row { source, .. } if source.column == "tracks"),
        "{error}"
    );
}

#[derive(Model, FromRow, ToRow, Debug, Clone, PartialEq)]
#[keel(table = "keel_orm_item")]
struct Item {
    #[keel(primary_key, default = "nextval('keel_orm_item_id_seq')")]
    id: Option<i32>,
    sku: String,
    name: String,
    #[keel(default = "0")]
    qty: i32,
    #[keel(type = "numeric")]
    price: Option<String>,
    tags: Vec<String>,
}

fn item(sku: &str, name: &str, qty: i32) -> Item {
    Item {
        id: None,
        sku: sku.into(),
        name: name.into(),
        qty,
        price: Some("9.50".into()),
        tags: vec!["a".into(), "b".into()],
    }
}

fn scratch_schema<M: Model>(unique: &[&str]) -> Schema {
    let mut table = M::table();
    if !unique.is_empty() {
        table.unique.push(Unique {
            name: None,
            columns: unique.iter().map(|c| (*c).to_owned()).collect(),
        });
    }
    Schema {
        tables: vec![table],
        enums: vec![],
        domains: vec![],
        views: vec![],
    }
}

#[tokio::test]
async fn writes_round_trip_through_models() {
    let Some(url) = database_url() else { return };
    let pool = common::pool(&url, "keel_orm_write", common::settings(4)).await;
    pool.execute(
        "DROP TABLE IF EXISTS keel_orm_item; CREATE TABLE keel_orm_item (\
           id serial PRIMARY KEY, sku text NOT NULL UNIQUE, name text NOT NULL, \
           qty int4 NOT NULL DEFAULT 0, price numeric, tags text[] NOT NULL)",
    )
    .await
    .unwrap();
    let db = Db::new(pool, scratch_schema::<Item>(&["sku"]));

    let stored = db.insert(&item("A-1", "anchor", 3)).await.unwrap();
    assert_eq!(stored.id, Some(1));
    assert_eq!(stored.price.as_deref(), Some("9.50"));
    assert_eq!(stored.tags, ["a", "b"]);
    let second = db.insert(&item("B-2", "buoy", 5)).await.unwrap();
    assert_eq!(second.id, Some(2));
    let duplicate = db.insert(&item("A-1", "again", 1)).await.unwrap_err();
    assert_eq!(duplicate.sqlstate(), Some("23505"));

    // Only the patched column is written: a concurrent change to another
    // column survives.
    db.update_where::<Item>(Item::id.eq(1), Patch::new().set(Item::qty, 30))
        .await
        .unwrap();
    let patched = db
        .update(&stored, Patch::new().set(Item::name, "Anchor"))
        .await
        .unwrap();
    assert_eq!((patched.name.as_str(), patched.qty), ("Anchor", 30));

    let updated = db
        .update_where::<Item>(Item::qty.gte(5), Patch::new().set(Item::price, "1.25"))
        .await
        .unwrap();
    assert_eq!(updated, 2);
    assert_eq!(
        db.get::<Item>(2).await.unwrap().price.as_deref(),
        Some("1.25")
    );

    let upserted = db
        .upsert(&item("B-2", "big buoy", 7), &["sku"])
        .await
        .unwrap();
    assert_eq!(
        (upserted.id, upserted.name.as_str(), upserted.qty),
        (Some(2), "big buoy", 7)
    );
    let created = db
        .update_or_create(&item("C-3", "chain", 1), &["sku"])
        .await
        .unwrap();
    assert_eq!(created.id.map(|id| id > 2), Some(true));

    let (existing, inserted) = db
        .get_or_create(&item("A-1", "ignored", 0), &["sku"])
        .await
        .unwrap();
    assert!(!inserted);
    assert_eq!(existing.name, "Anchor");
    let (fresh, inserted) = db
        .get_or_create(&item("D-4", "davit", 2), &["sku"])
        .await
        .unwrap();
    assert!(inserted);
    assert_eq!(fresh.sku, "D-4");

    // get_or_create is race-safe: 16 concurrent calls create one row.
    let racer = item("E-5", "everyone", 1);
    let racers: Vec<_> = (0..16)
        .map(|_| db.get_or_create(&racer, &["sku"]))
        .collect();
    let results = futures_util::future::join_all(racers).await;
    let created: usize = results.iter().filter(|r| r.as_ref().unwrap().1).count();
    assert_eq!(created, 1);
    let ids: std::collections::BTreeSet<_> =
        results.iter().map(|r| r.as_ref().unwrap().0.id).collect();
    assert_eq!(ids.len(), 1);

    assert!(db.delete(&fresh).await.unwrap());
    assert!(!db.delete(&fresh).await.unwrap());
    assert_eq!(db.delete_where::<Item>(Item::qty.lt(2)).await.unwrap(), 2);
    let left: Vec<String> = db
        .find::<Item>()
        .order(Item::sku.asc())
        .all()
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.sku)
        .collect();
    assert_eq!(left, ["A-1", "B-2"]);
}

#[derive(Model, FromRow, ToRow, Debug, Clone, PartialEq)]
#[keel(table = "keel_orm_bulk")]
struct Bulk {
    #[keel(primary_key, default = "nextval('keel_orm_bulk_id_seq')")]
    id: Option<i64>,
    label: String,
    n: i32,
}

#[tokio::test]
async fn insert_many_splits_under_the_parameter_limit() {
    let Some(url) = database_url() else { return };
    let pool = common::pool(&url, "keel_orm_bulk", common::settings(2)).await;
    pool.execute(
        "DROP TABLE IF EXISTS keel_orm_bulk; \
         CREATE TABLE keel_orm_bulk (id bigserial PRIMARY KEY, label text NOT NULL, n int4 NOT NULL)",
    )
    .await
    .unwrap();
    let db = Db::new(pool, scratch_schema::<Bulk>(&[]));
    // 2 columns per row: 40,000 rows need 80,000 parameters, two statements.
    let models: Vec<Bulk> = (0..40_000)
        .map(|n| Bulk {
            id: None,
            label: format!("row {n}"),
            n,
        })
        .collect();
    let keys = db.insert_many(&models).await.unwrap();
    assert_eq!(keys.columns, ["id"]);
    assert_eq!(keys.rows.len(), 40_000);
    let expected: Vec<Vec<Value>> = (1..=40_000).map(|i| vec![Value::Int8(i)]).collect();
    assert_eq!(keys.rows, expected);
    assert_eq!(db.find::<Bulk>().count().await.unwrap(), 40_000);
    let last = db.get::<Bulk>(40_000_i64).await.unwrap();
    assert_eq!((last.label.as_str(), last.n), ("row 39999", 39_999));
}

#[derive(Model, FromRow, Debug)]
struct Artist {
    #[keel(primary_key)]
    artist_id: i32,
    #[keel(type = "varchar")]
    name: Option<String>,
}

#[tokio::test]
async fn chinook_models() {
    let Some(url) = chinook_url() else { return };
    let pool = common::pool(&url, "keel_orm_chinook", common::settings(2)).await;
    let db = Db::new(pool, Schema::from_json(CHINOOK_SCHEMA).unwrap());
    assert_eq!(db.find::<Artist>().count().await.unwrap(), 275);
    assert_eq!(
        db.get::<Artist>(1).await.unwrap().name.as_deref(),
        Some("AC/DC")
    );
    let page = db
        .find::<Artist>()
        .filter(Artist::name.like("A%"))
        .order(Artist::artist_id.asc())
        .limit(3)
        .all()
        .await
        .unwrap();
    let names: Vec<_> = page
        .iter()
        .map(|a| (a.artist_id, a.name.clone().unwrap()))
        .collect();
    assert_eq!(
        names,
        [
            (1, "AC/DC".to_owned()),
            (2, "Accept".to_owned()),
            (3, "Aerosmith".to_owned())
        ]
    );
}

mod chinook_relations {
    use keel_native::orm::{FromRow, OrmError};
    use keel_native::query::select::Include;
    use keel_native::query::typed::Model;
    use keel_native::{Db, Schema};
    use keel_testkit::chinook_url;

    #[derive(Model, FromRow, Debug)]
    pub struct Album {
        #[keel(primary_key)]
        album_id: i32,
        #[keel(type = "varchar")]
        title: String,
        artist_id: i32,
    }

    #[derive(Model, FromRow, Debug)]
    pub struct Artist {
        #[keel(primary_key)]
        artist_id: i32,
        #[keel(type = "varchar")]
        name: Option<String>,
    }

    #[derive(Model, FromRow, Debug)]
    pub struct Track {
        #[keel(primary_key)]
        track_id: i32,
        #[keel(type = "varchar")]
        name: String,
        album_id: Option<i32>,
    }

    #[derive(Model, FromRow, Debug)]
    pub struct Playlist {
        #[keel(primary_key)]
        playlist_id: i32,
        #[keel(type = "varchar")]
        name: Option<String>,
    }

    #[tokio::test]
    async fn eager_loading_is_batched_and_typed() {
        let Some(url) = chinook_url() else { return };
        let pool = crate::common::pool(&url, "keel_orm_with", crate::common::settings(2)).await;
        let db = Db::new(pool, Schema::from_json(super::CHINOOK_SCHEMA).unwrap());
        let loaded = db
            .find::<Album>()
            .filter(Album::album_id.is_in([1, 4]))
            .order(Album::album_id.asc())
            .with(Include::relation("artist"))
            .with(Include::relation("tracks"))
            .all_loaded()
            .await
            .unwrap();
        let ids: Vec<i32> = loaded.models.iter().map(|a| a.album_id).collect();
        assert_eq!(ids, [1, 4]);
        assert_eq!(
            loaded.models[0].title,
            "For Those About To Rock We Salute You"
        );
        let artist: Vec<Artist> = loaded.related(0, "artist").unwrap();
        assert_eq!(artist.len(), 1);
        assert_eq!(artist[0].artist_id, loaded.models[0].artist_id);
        assert_eq!(artist[0].name.as_deref(), Some("AC/DC"));
        let tracks: Vec<Track> = loaded.related(0, "tracks").unwrap();
        assert_eq!(tracks.len(), 10);
        assert!(tracks.iter().all(|t| t.album_id == Some(1)));
        assert_eq!(tracks.iter().map(|t| t.track_id).min(), Some(1));
        let other: Vec<Track> = loaded.related(1, "tracks").unwrap();
        assert_eq!(other.len(), 8);
        assert!(other.iter().all(|t| t.album_id == Some(4)));
        // Not requested: a clear error, never a query.
        assert!(matches!(
            loaded.related::<Track>(0, "genre"),
            Err(OrmError::NotLoaded { model: "album", .. })
        ));
        // all() refuses a query with relations instead of dropping them.
        assert!(db
            .find::<Album>()
            .with(Include::relation("artist"))
            .all()
            .await
            .is_err());

        let with_playlists = db
            .find::<Track>()
            .filter(Track::track_id.eq(1))
            .with(Include::relation("playlists"))
            .all_loaded()
            .await
            .unwrap();
        assert_eq!(
            with_playlists.models[0].name,
            "For Those About To Rock (We Salute You)"
        );
        let playlists: Vec<Playlist> = with_playlists.related(0, "playlists").unwrap();
        let mut ids: Vec<i32> = playlists.iter().map(|p| p.playlist_id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [1, 8, 17]);
        assert!(playlists.iter().all(|p| p.name.is_some()));
    }
    /// Artist → albums → tracks, read back as a typed tree from one plan
    /// (three statements), and checked against Chinook's own counts.
    #[tokio::test]
    async fn nested_relations_read_back_as_a_typed_tree() {
        let Some(url) = chinook_url() else { return };
        let pool = crate::common::pool(&url, "keel_orm_nested", crate::common::settings(2)).await;
        let db = Db::new(pool, Schema::from_json(super::CHINOOK_SCHEMA).unwrap());
        let loaded = db
            .find::<Artist>()
            .filter(Artist::artist_id.is_in([1, 8, 22]))
            .order(Artist::artist_id.asc())
            .with(Include::relation("albums").with(Include::relation("tracks")))
            .all_loaded()
            .await
            .unwrap();
        let tree: Vec<(i32, Vec<AlbumTracks>)> = loaded
            .children::<Album>("albums")
            .unwrap()
            .into_iter()
            .zip(&loaded.models)
            .map(|(albums, artist)| {
                let tracks = albums.children::<Track>("tracks").unwrap();
                let albums = albums
                    .models
                    .iter()
                    .zip(tracks)
                    .map(|(album, tracks)| {
                        assert!(tracks
                            .models
                            .iter()
                            .all(|t| t.album_id == Some(album.album_id)));
                        (
                            album.album_id,
                            tracks.models.iter().map(|t| t.track_id).collect(),
                        )
                    })
                    .collect();
                (artist.artist_id, albums)
            })
            .collect();
        let shape: Vec<(i32, Vec<(i32, usize)>)> = tree
            .iter()
            .map(|(artist, albums)| {
                let mut albums: Vec<(i32, usize)> = albums
                    .iter()
                    .map(|(id, tracks)| (*id, tracks.len()))
                    .collect();
                albums.sort_unstable();
                (*artist, albums)
            })
            .collect();
        // AC/DC: albums 1 (10 tracks) and 4 (8); every artist's total is
        // checked against the server below.
        assert_eq!(shape[0], (1, vec![(1, 10), (4, 8)]));
        assert_eq!(shape[1].0, 8);
        assert_eq!(shape[2].0, 22);
        for (artist, albums) in &shape {
            let expected: i64 = db
                .raw::<Count>(
                    "SELECT count(*) AS n FROM track t JOIN album a USING (album_id) WHERE a.artist_id = $1",
                    vec![(
                        keel_native::orm::JsonValue::from(*artist),
                        keel_native::types::PgType::Int4,
                    )],
                )
                .await
                .unwrap()[0]
                .n;
            let got: usize = albums.iter().map(|(_, n)| n).sum();
            assert_eq!(got as i64, expected, "tracks of artist {artist}");
        }
        // A level that was not requested is an error at any depth.
        let albums = loaded.children::<Album>("albums").unwrap();
        assert!(matches!(
            albums[0].children::<Track>("genre"),
            Err(OrmError::NotLoaded { model: "album", .. })
        ));
    }

    /// An album id and its track ids.
    type AlbumTracks = (i32, Vec<i32>);

    #[derive(FromRow, Debug)]
    struct Count {
        n: i64,
    }
}

mod pagila {
    use keel_native::introspect::introspect;
    use keel_native::orm::{FromRow, ToRow};
    use keel_native::query::typed::Model;
    use keel_testkit::pagila_url;

    #[derive(Model, FromRow, ToRow, Debug, Clone)]
    pub struct Film {
        #[keel(primary_key, default = "nextval('film_film_id_seq')")]
        film_id: Option<i32>,
        title: String,
        language_id: i32,
        #[keel(type = "year")]
        release_year: Option<i32>,
        #[keel(type = "mpaa_rating")]
        rating: Option<String>,
        special_features: Option<Vec<String>>,
        #[keel(type = "numeric")]
        rental_rate: String,
    }

    #[derive(Model, FromRow, ToRow, Debug)]
    pub struct Actor {
        #[keel(primary_key, default = "nextval('actor_actor_id_seq')")]
        actor_id: Option<i32>,
        first_name: String,
        last_name: String,
    }

    /// On the introspected Pagila schema: enum, domain and array columns
    /// read into and write from plain Rust fields.
    #[tokio::test]
    async fn enums_domains_and_arrays_map_to_fields() {
        let Some(url) = pagila_url() else { return };
        let schema = std::sync::Arc::new(introspect(&url).await.unwrap());
        let pool = crate::common::pool(&url, "keel_orm_pagila", crate::common::settings(2)).await;
        let db = keel_native::Db::new(pool.clone(), schema.clone());

        let first = db.get::<Film>(1).await.unwrap();
        assert_eq!(first.title, "ACADEMY DINOSAUR");
        assert_eq!(first.rating.as_deref(), Some("PG"));
        assert_eq!(first.release_year, Some(2012));
        assert_eq!(
            first.special_features,
            Some(vec![
                "Deleted Scenes".to_owned(),
                "Behind the Scenes".to_owned()
            ])
        );
        assert_eq!(
            db.find::<Film>()
                .filter(Film::rating.eq("PG-13"))
                .count()
                .await
                .unwrap(),
            223
        );

        // Written inside a transaction that is rolled back: the dataset
        // stays as loaded. (`film` itself cannot take an insert of this
        // struct: its NOT NULL `fulltext` is filled by a trigger, which the
        // compiler cannot know, so it refuses the omitted column.)
        let mut tx = pool.begin().await.unwrap();
        {
            let db = tx.db(schema.clone());
            let patched = db
                .update(
                    &first,
                    keel_native::orm::Patch::new()
                        .set(Film::rating, "NC-17")
                        .set(Film::release_year, 2024)
                        .set(Film::special_features, vec!["Trailers".to_owned()]),
                )
                .await
                .unwrap();
            assert_eq!(patched.rating.as_deref(), Some("NC-17"));
            assert_eq!(patched.release_year, Some(2024));
            assert_eq!(patched.special_features, Some(vec!["Trailers".to_owned()]));
            assert_eq!(patched.title, first.title);
            let actor = db
                .insert(&Actor {
                    actor_id: None,
                    first_name: "KEEL".into(),
                    last_name: "OVER".into(),
                })
                .await
                .unwrap();
            assert!(actor.actor_id.is_some_and(|id| id > 200));
            // A value outside the enum fails before any I/O.
            let error = db
                .find::<Film>()
                .filter(Film::rating.eq("X"))
                .count()
                .await
                .unwrap_err();
            assert!(error.to_string().contains("rating"), "{error}");
        }
        tx.rollback().await.unwrap();
        assert_eq!(
            db.get::<Film>(1).await.unwrap().rating.as_deref(),
            Some("PG")
        );
        assert!(!db
            .find::<Actor>()
            .filter(Actor::first_name.eq("KEEL"))
            .exists()
            .await
            .unwrap());
    }
}
