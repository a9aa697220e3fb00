//! `#[derive(Model)]`: a Rust struct as a table of a keel schema.
//!
//! ```ignore
//! #[derive(keel_core::Model)]
//! #[keel(table = "track")]
//! #[keel(many_to_many(name = "playlists", through = "playlist_track", target = "playlist"))]
//! struct Track {
//!     #[keel(primary_key)]
//!     track_id: i32,
//!     #[keel(belongs_to = "album", references = "album", inverse = "tracks")]
//!     album_id: i32,
//!     #[keel(rename = "name")]
//!     title: String,
//!     composer: Option<String>,
//!     #[keel(type = "numeric")]
//!     unit_price: String,
//! }
//! ```
//!
//! generates `impl Model for Track` (its [`Table`] with types, nullability,
//! keys and relations) and one typed column handle per field, so
//! `Track::unit_price.gt("0.99")` builds the same filter as the JSON form.
//! The generated code names `::keel_core`, which must be a dependency.
//!
//! [`Table`]: https://docs.rs/keel-core/latest/keel_core/schema/struct.Table.html

use proc_macro::TokenStream;
use proc_macro2::TokenStream as Tokens;
use quote::{format_ident, quote};
use syn::{
    parse_macro_input, Data, DeriveInput, Fields, GenericArgument, LitStr, PathArguments, Type,
};

#[proc_macro_derive(Model, attributes(keel))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand(&input) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// `#[derive(FromRow)]`: builds the struct from a result row by column name
/// (the field name, or its `#[keel(rename = "...")]`); `#[keel(skip)]`
/// fields take `Default`. Every field type must implement `FromValue`.
#[proc_macro_derive(FromRow, attributes(keel))]
pub fn derive_from_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand_row(&input, true) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// `#[derive(ToRow)]`: the struct's columns as query-language literals, for
/// inserts and upserts. Every field type must implement `SqlValue`.
#[proc_macro_derive(ToRow, attributes(keel))]
pub fn derive_to_row(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    match expand_row(&input, false) {
        Ok(tokens) => tokens.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand_row(input: &DeriveInput, from_row: bool) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(ident, "Row is derived for structs"));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(ident, "Row needs named fields"));
    };
    let mut reads = Vec::new();
    let mut raw_reads = Vec::new();
    let mut raw_columns = Vec::new();
    let mut writes = Vec::new();
    for field in &fields.named {
        let Some(field_ident) = &field.ident else {
            continue;
        };
        let (mut rename, mut skip) = (None, false);
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("keel")) {
            attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("rename") {
                    rename = Some(string_value(&meta)?);
                } else if meta.path.is_ident("skip") {
                    skip = true;
                } else if meta.input.peek(syn::Token![=]) {
                    // Model's attributes (type, default, belongs_to, ...).
                    let _ = meta.value()?.parse::<LitStr>()?;
                }
                Ok(())
            })?;
        }
        if skip {
            reads.push(quote!(#field_ident: ::std::default::Default::default()));
            raw_reads.push(quote!(#field_ident: ::std::default::Default::default()));
            continue;
        }
        let column =
            rename.unwrap_or_else(|| field_ident.to_string().trim_start_matches("r#").to_owned());
        reads.push(quote!(#field_ident: row.get(#column)?));
        let index = raw_columns.len();
        raw_columns.push(quote!(::keel_core::orm::raw_column(raw, #column)?));
        raw_reads.push(quote! {
            #field_ident: ::keel_core::orm::read_cell(
                row,
                types,
                indices.get(#index).copied().unwrap_or(usize::MAX),
                #column,
            )?
        });
        writes.push(quote! {
            (#column, ::keel_core::query::typed::SqlValue::to_json(&self.#field_ident))
        });
    }
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    if from_row {
        return Ok(quote! {
            impl #impl_generics ::keel_core::orm::FromRow for #ident #ty_generics #where_clause {
                fn from_row(
                    row: &::keel_core::orm::Row<'_>,
                ) -> ::std::result::Result<Self, ::keel_core::orm::RowError> {
                    ::std::result::Result::Ok(#ident { #(#reads),* })
                }

                fn raw_columns(
                    raw: &::keel_core::rows::RawRows,
                ) -> ::std::result::Result<::std::vec::Vec<usize>, ::keel_core::orm::RowError> {
                    ::std::result::Result::Ok(::std::vec![#(#raw_columns),*])
                }

                #[allow(unused_variables)]
                fn from_raw_row(
                    row: ::keel_core::rows::RawRow<'_>,
                    types: &[::std::option::Option<::keel_core::types::PgType>],
                    indices: &[usize],
                ) -> ::std::result::Result<Self, ::keel_core::orm::RowError> {
                    ::std::result::Result::Ok(#ident { #(#raw_reads),* })
                }
            }
        });
    }
    Ok(quote! {
        impl #impl_generics ::keel_core::orm::ToRow for #ident #ty_generics #where_clause {
            fn to_row(&self) -> ::std::vec::Vec<(&'static str, ::keel_core::orm::JsonValue)> {
                ::std::vec![#(#writes),*]
            }
        }
    })
}

#[derive(Default)]
struct FieldAttrs {
    rename: Option<String>,
    primary_key: bool,
    ty: Option<String>,
    default: Option<String>,
    belongs_to: Option<String>,
    references: Option<String>,
    inverse: Option<String>,
    inverse_one: bool,
    skip: bool,
}

struct ManyToMany {
    name: String,
    through: String,
    target: String,
}

fn string_value(meta: &syn::meta::ParseNestedMeta<'_>) -> syn::Result<String> {
    Ok(meta.value()?.parse::<LitStr>()?.value())
}

fn expand(input: &DeriveInput) -> syn::Result<Tokens> {
    let ident = &input.ident;
    let mut table = snake_case(&ident.to_string());
    let mut pg_schema: Option<String> = None;
    let mut many: Vec<ManyToMany> = Vec::new();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("keel")) {
        attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table") {
                table = string_value(&meta)?;
            } else if meta.path.is_ident("schema") {
                pg_schema = Some(string_value(&meta)?);
            } else if meta.path.is_ident("many_to_many") {
                let (mut name, mut through, mut target) = (None, None, None);
                meta.parse_nested_meta(|inner| {
                    if inner.path.is_ident("name") {
                        name = Some(string_value(&inner)?);
                    } else if inner.path.is_ident("through") {
                        through = Some(string_value(&inner)?);
                    } else if inner.path.is_ident("target") {
                        target = Some(string_value(&inner)?);
                    } else {
                        return Err(inner.error("expected name, through or target"));
                    }
                    Ok(())
                })?;
                match (name, through, target) {
                    (Some(name), Some(through), Some(target)) => many.push(ManyToMany {
                        name,
                        through,
                        target,
                    }),
                    _ => return Err(meta.error("many_to_many needs name, through and target")),
                }
            } else {
                return Err(meta.error("expected table, schema or many_to_many"));
            }
            Ok(())
        })?;
    }

    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            ident,
            "Model is derived for structs",
        ));
    };
    let Fields::Named(fields) = &data.fields else {
        return Err(syn::Error::new_spanned(ident, "Model needs named fields"));
    };

    let mut columns = Vec::new();
    let mut primary_key = Vec::new();
    let mut foreign_keys = Vec::new();
    let mut handles = Vec::new();
    for field in &fields.named {
        let Some(field_ident) = &field.ident else {
            continue;
        };
        let mut attrs = FieldAttrs::default();
        for attr in field.attrs.iter().filter(|a| a.path().is_ident("keel")) {
            attr.parse_nested_meta(|meta| {
                let p = &meta.path;
                if p.is_ident("rename") {
                    attrs.rename = Some(string_value(&meta)?);
                } else if p.is_ident("primary_key") {
                    attrs.primary_key = true;
                } else if p.is_ident("type") {
                    attrs.ty = Some(string_value(&meta)?);
                } else if p.is_ident("default") {
                    attrs.default = Some(string_value(&meta)?);
                } else if p.is_ident("belongs_to") {
                    attrs.belongs_to = Some(string_value(&meta)?);
                } else if p.is_ident("references") {
                    attrs.references = Some(string_value(&meta)?);
                } else if p.is_ident("inverse") {
                    attrs.inverse = Some(string_value(&meta)?);
                } else if p.is_ident("inverse_one") {
                    attrs.inverse_one = true;
                } else if p.is_ident("skip") {
                    attrs.skip = true;
                } else {
                    return Err(meta.error(
                        "expected rename, primary_key, type, default, belongs_to, references, inverse, inverse_one or skip",
                    ));
                }
                Ok(())
            })?;
        }
        if attrs.skip {
            continue;
        }
        let column = attrs
            .rename
            .clone()
            .unwrap_or_else(|| field_ident.to_string().trim_start_matches("r#").to_owned());
        let (inner, nullable) = match option_inner(&field.ty) {
            Some(inner) => (inner, true),
            None => (&field.ty, false),
        };
        let pg = match &attrs.ty {
            Some(t) => t.clone(),
            None => pg_type_of(inner).ok_or_else(|| {
                syn::Error::new_spanned(
                    &field.ty,
                    "no PostgreSQL type is known for this Rust type; name one with #[keel(type = \"...\")]",
                )
            })?,
        };
        let default = match &attrs.default {
            Some(d) => quote!(::std::option::Option::Some(::std::string::String::from(#d))),
            None => quote!(::std::option::Option::None),
        };
        columns.push(quote! {
            ::keel_core::schema::Column {
                name: ::std::string::String::from(#column),
                ty: ::keel_core::schema::PgType::parse(#pg),
                nullable: #nullable,
                default: #default,
            }
        });
        if attrs.primary_key {
            primary_key.push(column.clone());
        }
        if let Some(references) = attrs
            .references
            .clone()
            .or_else(|| attrs.belongs_to.clone())
        {
            let relation = option_string(&attrs.belongs_to);
            let inverse = option_string(&attrs.inverse);
            let inverse_one = attrs.inverse_one;
            foreign_keys.push(quote! {
                ::keel_core::schema::ForeignKey {
                    columns: ::std::vec![::std::string::String::from(#column)],
                    references: ::std::string::String::from(#references),
                    referenced_columns: ::std::vec::Vec::new(),
                    relation: #relation,
                    inverse: #inverse,
                    inverse_one: #inverse_one,
                    on_delete: ::std::option::Option::None,
                }
            });
        }
        let ty = &field.ty;
        let vis = &field.vis;
        let handle = format_ident!("{}", field_ident);
        handles.push(quote! {
            #vis const #handle: ::keel_core::query::typed::Column<#ident, #ty> =
                ::keel_core::query::typed::Column::new(#column);
        });
    }
    let many = many.iter().map(|m| {
        let (name, through, target) = (&m.name, &m.through, &m.target);
        quote! {
            ::keel_core::schema::ManyToMany {
                name: ::std::string::String::from(#name),
                through: ::std::string::String::from(#through),
                target: ::std::string::String::from(#target),
            }
        }
    });
    let schema_tokens = option_string(&pg_schema);
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    Ok(quote! {
        impl #impl_generics ::keel_core::query::typed::Model for #ident #ty_generics #where_clause {
            const TABLE: &'static str = #table;

            fn table() -> ::keel_core::schema::Table {
                ::keel_core::schema::Table {
                    name: ::std::string::String::from(#table),
                    schema: #schema_tokens,
                    columns: ::std::vec![#(#columns),*],
                    primary_key: ::std::vec![#(::std::string::String::from(#primary_key)),*],
                    unique: ::std::vec::Vec::new(),
                    foreign_keys: ::std::vec![#(#foreign_keys),*],
                    many_to_many: ::std::vec![#(#many),*],
                    indexes: ::std::vec::Vec::new(),
                }
            }
        }

        /// Typed column handles, named like the fields so queries read
        /// `Track::name.eq("x")`.
        #[allow(non_upper_case_globals)]
        impl #impl_generics #ident #ty_generics #where_clause {
            #(#handles)*
        }
    })
}

fn option_string(value: &Option<String>) -> Tokens {
    match value {
        Some(v) => quote!(::std::option::Option::Some(::std::string::String::from(#v))),
        None => quote!(::std::option::Option::None),
    }
}

fn last_segment(ty: &Type) -> Option<&syn::PathSegment> {
    match ty {
        Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        _ => None,
    }
}

fn first_generic(segment: &syn::PathSegment) -> Option<&Type> {
    match &segment.arguments {
        PathArguments::AngleBracketed(args) => args.args.iter().find_map(|a| match a {
            GenericArgument::Type(t) => Some(t),
            _ => None,
        }),
        _ => None,
    }
}

fn option_inner(ty: &Type) -> Option<&Type> {
    let segment = last_segment(ty)?;
    if segment.ident == "Option" {
        first_generic(segment)
    } else {
        None
    }
}

/// The PostgreSQL type of a plain Rust field type, where there is an obvious one.
fn pg_type_of(ty: &Type) -> Option<String> {
    let segment = last_segment(ty)?;
    let name = segment.ident.to_string();
    Some(
        match name.as_str() {
            "bool" => "bool",
            "i16" => "int2",
            "i32" => "int4",
            "i64" => "int8",
            "f32" => "float4",
            "f64" => "float8",
            "String" => "text",
            "Timestamp" => "timestamptz",
            "Value" => "jsonb",
            "Vec" => {
                let element = first_generic(segment)?;
                if last_segment(element).is_some_and(|s| s.ident == "u8") {
                    return Some("bytea".to_owned());
                }
                return pg_type_of(element).map(|e| format!("{e}[]"));
            }
            _ => return None,
        }
        .to_owned(),
    )
}

fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
