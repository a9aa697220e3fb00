//! The diesel benchmark schema as each contender declares it.
//!
//! `User`, `Post` and `Comment` carry keel's, sqlx's and diesel's derives at
//! once, so every contender returns the same Rust values and a checksum over
//! them compares like with like; sea-orm needs its own entity modules.

use diesel::prelude::{Associations, Identifiable, Insertable, Queryable, Selectable};
use keel_native::query::typed::Model;

pub const SCHEMA_JSON: &str = include_str!("../schema.json");

/// The diesel benchmark tables (ANCHORS.md), plus pgbench's are made by
/// `pgbench -i` and the bulk target here.
pub const DDL: &str = "
DROP TABLE IF EXISTS comments, posts, users, bulk_users CASCADE;
CREATE TABLE users (id SERIAL PRIMARY KEY, name VARCHAR NOT NULL, hair_color VARCHAR);
CREATE TABLE posts (id SERIAL PRIMARY KEY, user_id INT NOT NULL, title VARCHAR NOT NULL, body TEXT);
CREATE TABLE comments (id SERIAL PRIMARY KEY, post_id INT NOT NULL, text TEXT NOT NULL);
CREATE INDEX users_hair_color ON users (hair_color);
CREATE INDEX posts_user_id ON posts (user_id);
CREATE INDEX comments_post_id ON comments (post_id);
CREATE TABLE bulk_users (id SERIAL PRIMARY KEY, name VARCHAR NOT NULL, hair_color VARCHAR);
";

diesel::table! {
    users {
        id -> Integer,
        name -> Text,
        hair_color -> Nullable<Text>,
    }
}

diesel::table! {
    posts {
        id -> Integer,
        user_id -> Integer,
        title -> Text,
        body -> Nullable<Text>,
    }
}

diesel::table! {
    comments {
        id -> Integer,
        post_id -> Integer,
        text -> Text,
    }
}

diesel::joinable!(comments -> posts (post_id));
diesel::joinable!(posts -> users (user_id));
diesel::allow_tables_to_appear_in_same_query!(users, posts, comments);

#[derive(
    Debug,
    Clone,
    PartialEq,
    Model,
    keel_native::orm::FromRow,
    sqlx::FromRow,
    Queryable,
    Selectable,
    Identifiable,
)]
#[keel(table = "users")]
#[diesel(table_name = users)]
pub struct User {
    #[keel(primary_key)]
    pub id: i32,
    #[keel(type = "varchar")]
    pub name: String,
    #[keel(type = "varchar")]
    pub hair_color: Option<String>,
}

#[derive(
    Debug,
    Clone,
    PartialEq,
    Model,
    keel_native::orm::FromRow,
    sqlx::FromRow,
    Queryable,
    Selectable,
    Identifiable,
    Associations,
)]
#[keel(table = "posts")]
#[diesel(table_name = posts, belongs_to(User))]
pub struct Post {
    #[keel(primary_key)]
    pub id: i32,
    pub user_id: i32,
    #[keel(type = "varchar")]
    pub title: String,
    pub body: Option<String>,
}

#[derive(
    Debug,
    Clone,
    PartialEq,
    Model,
    keel_native::orm::FromRow,
    sqlx::FromRow,
    Queryable,
    Selectable,
    Identifiable,
    Associations,
)]
#[keel(table = "comments")]
#[diesel(table_name = comments, belongs_to(Post))]
pub struct Comment {
    #[keel(primary_key)]
    pub id: i32,
    pub post_id: i32,
    pub text: String,
}

/// A user to insert: the key is left to the sequence (the schema's default).
#[derive(Debug, Clone, Model, keel_native::orm::ToRow, Insertable)]
#[keel(table = "users")]
#[diesel(table_name = users)]
pub struct NewUser {
    #[keel(primary_key, default = "nextval('users_id_seq')")]
    #[diesel(skip_insertion)]
    pub id: Option<i32>,
    #[keel(type = "varchar")]
    pub name: String,
    #[keel(type = "varchar")]
    pub hair_color: Option<String>,
}

impl NewUser {
    pub fn numbered(i: usize, hair_color: Option<&str>) -> NewUser {
        NewUser {
            id: None,
            name: format!("User {i}"),
            hair_color: hair_color.map(str::to_owned),
        }
    }
}

/// The same rows in `bulk_users`, for the bulk-insert workload.
#[derive(Debug, Clone, Model, keel_native::orm::ToRow)]
#[keel(table = "bulk_users")]
pub struct NewBulkUser {
    #[keel(primary_key, default = "nextval('bulk_users_id_seq')")]
    pub id: Option<i32>,
    #[keel(type = "varchar")]
    pub name: String,
    #[keel(type = "varchar")]
    pub hair_color: Option<String>,
}

/// One row of the medium query (`users LEFT JOIN posts`): keel's typed
/// builder has no tuple-of-models result, so the join is read into one
/// flat struct and split, the way a keel user would.
#[derive(Debug, keel_native::orm::FromRow, sqlx::FromRow)]
pub struct UserPostRow {
    pub id: i32,
    pub name: String,
    pub hair_color: Option<String>,
    pub post_id: Option<i32>,
    pub post_user_id: Option<i32>,
    pub post_title: Option<String>,
    pub post_body: Option<String>,
}

impl UserPostRow {
    pub fn split(self) -> (User, Option<Post>) {
        let post = match (self.post_id, self.post_user_id, self.post_title) {
            (Some(id), Some(user_id), Some(title)) => Some(Post {
                id,
                user_id,
                title,
                body: self.post_body,
            }),
            _ => None,
        };
        (
            User {
                id: self.id,
                name: self.name,
                hair_color: self.hair_color,
            },
            post,
        )
    }
}

/// `pgbench_accounts` for the pool workload. Only its typed column handles
/// are used: the lookup selects `abalance` alone with `values`, so keel sends
/// exactly pgbench's SQL.
#[allow(dead_code)]
#[derive(Debug, Model, keel_native::orm::FromRow)]
#[keel(table = "pgbench_accounts")]
pub struct Account {
    #[keel(primary_key)]
    pub aid: i32,
    pub abalance: Option<i32>,
}

/// sea-orm's entities for the same tables.
pub mod sea {
    pub mod users {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "users")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub name: String,
            pub hair_color: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(has_many = "super::posts::Entity")]
            Posts,
        }

        impl Related<super::posts::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Posts.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod posts {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub user_id: i32,
            pub title: String,
            pub body: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::users::Entity",
                from = "Column::UserId",
                to = "super::users::Column::Id"
            )]
            User,
            #[sea_orm(has_many = "super::comments::Entity")]
            Comments,
        }

        impl Related<super::users::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::User.def()
            }
        }

        impl Related<super::comments::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Comments.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod comments {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "comments")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub post_id: i32,
            pub text: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::posts::Entity",
                from = "Column::PostId",
                to = "super::posts::Column::Id"
            )]
            Post,
        }

        impl Related<super::posts::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Post.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }
}
