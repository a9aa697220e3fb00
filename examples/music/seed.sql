-- keel's own small music-store dataset: the demo and the fixture-based tests
-- run on it, so nothing outside the repository is needed. Written for keel;
-- shaped like Chinook's artist → album → track, with one column per type the
-- walking skeleton decodes (int4, int8, text, bool, float8, numeric, timestamptz, NULL).

CREATE TABLE artist (
    artist_id int4 PRIMARY KEY,
    name text NOT NULL
);

CREATE TABLE album (
    album_id int4 PRIMARY KEY,
    artist_id int4 NOT NULL REFERENCES artist (artist_id),
    title text NOT NULL
);

CREATE TABLE track (
    track_id int4 PRIMARY KEY,
    album_id int4 NOT NULL REFERENCES album (album_id),
    name text NOT NULL,
    composer text,
    milliseconds int8 NOT NULL,
    bytes int8,
    unit_price numeric(10, 2) NOT NULL,
    rating float8,
    explicit bool NOT NULL DEFAULT false,
    released_at timestamptz
);

INSERT INTO artist (artist_id, name) VALUES
    (1, 'The Quiet Keels'),
    (2, 'Ada & the Lovelaces'),
    (3, 'Пётр and the “Unicode” Orchestra');

INSERT INTO album (album_id, artist_id, title) VALUES
    (1, 1, 'Harbour Lights'),
    (2, 1, 'Dry Dock'),
    (3, 2, 'Analytical Engine'),
    (4, 3, 'Ünïcödé Sessions');

INSERT INTO track (track_id, album_id, name, composer, milliseconds, bytes, unit_price, rating, explicit, released_at) VALUES
    (1, 1, 'Cast Off', 'M. Rivers', 215000, 7020351, 0.99, 4.5, false, '2021-03-14 09:26:53.589793+00'),
    (2, 1, 'Low Tide', NULL, 184000, 6014321, 0.99, NULL, false, '2021-03-14 09:30:00+00'),
    (3, 1, 'Bilge Pump Blues', 'M. Rivers, K. Ng', 9007199254740993, NULL, 1.29, 3.25, true, '1999-12-31 23:59:59.999999+00'),
    (4, 1, 'Keel Over', 'K. Ng', 301234, 9999999999, 12345678.90, -0.0, false, NULL),
    (5, 1, 'Anchor''s "Aweigh"', 'Trad.', 99000, 3100000, 0.00, 1e-300, false, '1970-01-01 00:00:00+00'),
    (6, 2, 'Scaffolding', 'A. Lovelace', 250000, 8000000, 0.99, 5, false, '2022-08-01 12:00:00+02'),
    (7, 3, 'Note G', 'A. Lovelace', 420000, 12000000, 1.99, 4.75, false, '1843-09-01 00:00:00+00'),
    (8, 4, 'Überfahrt', 'Пётр', 200000, 6500000, 0.99, 4, true, '2030-01-01 00:00:00+00');
