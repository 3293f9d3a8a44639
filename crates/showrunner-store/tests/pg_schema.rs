//! PostgreSQL's schema after every migration: text compares byte by byte, as on SQLite.

use showrunner_store::PgStore;
use showrunner_store::testing::TestDatabase;

#[test]
fn every_text_column_compares_bytewise_and_ids_sort_as_on_sqlite() {
    let Some(database) = TestDatabase::create() else {
        return;
    };
    drop(PgStore::open(database.url()).expect("store opens and migrates"));
    let mut client = postgres::Client::connect(database.url(), postgres::NoTls).expect("connects");

    let other: Vec<String> = client
        .query(
            "SELECT c.table_name || '.' || c.column_name || ' (' \
                    || coalesce(c.collation_name, 'the database default') || ')' \
             FROM information_schema.columns c \
             JOIN information_schema.tables t \
               ON t.table_schema = c.table_schema AND t.table_name = c.table_name \
             WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
               AND c.data_type = 'text' AND c.collation_name IS DISTINCT FROM 'C' \
             ORDER BY 1",
            &[],
        )
        .expect("reads the schema")
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(
        other.is_empty(),
        "text columns on another collation than \"C\" (a later migration must declare \
         COLLATE \"C\"): {other:?}"
    );

    // Upper case before lower case, '_' between them, and byte order for non-ASCII: the order
    // SQLite's BINARY collation gives, whatever locale the server was created with.
    let ids = ["b", "B", "a", "_x", "A", "é", "z"];
    for id in ids {
        client
            .execute(
                "INSERT INTO titles (id, kind, name, genres, cast_members, directors, \
                 countries, availability, updated_at) \
                 VALUES ($1, 'movie', $1, '[]', '[]', '[]', '[]', '[]', 0)",
                &[&id],
            )
            .expect("inserts a title");
    }
    let sorted: Vec<String> = client
        .query("SELECT id FROM titles ORDER BY id", &[])
        .expect("sorts titles")
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut expected: Vec<String> = ids.iter().map(|id| (*id).to_owned()).collect();
    expected.sort_unstable();
    assert_eq!(sorted, expected);
    assert_eq!(sorted.first().map(String::as_str), Some("A"));
}
