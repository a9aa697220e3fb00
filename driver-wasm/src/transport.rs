//! The bridge from a JS transport object to the core's [`Transport`] trait.

use js_sys::{Promise, Uint8Array};
use keel_core::protocol::Transport;
use keel_core::{Error, Result};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(typescript_custom_section)]
const TRANSPORT_TS: &str = r#"
/** Moves raw PostgreSQL protocol bytes. `read` resolves to `null` at end of stream. */
export interface Transport {
  write(bytes: Uint8Array): Promise<void> | void;
  read(): Promise<Uint8Array | null>;
  close?(): void;
}
"#;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(typescript_type = "Transport")]
    pub type JsTransport;

    #[wasm_bindgen(method, catch)]
    fn write(this: &JsTransport, bytes: Uint8Array) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn read(this: &JsTransport) -> std::result::Result<JsValue, JsValue>;

    #[wasm_bindgen(method, catch)]
    fn close(this: &JsTransport) -> std::result::Result<JsValue, JsValue>;

    // JS's own `String(value)`, which never throws; wasm-bindgen's Debug
    // formatting of a JsValue would add a large helper to the glue.
    #[wasm_bindgen(js_name = String)]
    fn js_string(value: &JsValue) -> String;
}

pub struct JsTransportAdapter(JsTransport);

impl JsTransportAdapter {
    pub fn new(transport: JsTransport) -> Self {
        JsTransportAdapter(transport)
    }
}

pub(crate) fn js_error(what: &str, error: JsValue) -> Error {
    let message = error
        .dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| js_string(&error));
    Error::Transport(format!("{what}: {message}"))
}

/// Awaits a value that may or may not be a promise.
pub(crate) async fn settle(value: JsValue) -> std::result::Result<JsValue, JsValue> {
    JsFuture::from(Promise::resolve(&value)).await
}

#[async_trait::async_trait(?Send)]
impl Transport for JsTransportAdapter {
    async fn write(&mut self, bytes: Vec<u8>) -> Result<()> {
        let pending = self
            .0
            .write(Uint8Array::from(bytes.as_slice()))
            .map_err(|e| js_error("transport write failed", e))?;
        settle(pending)
            .await
            .map_err(|e| js_error("transport write failed", e))?;
        Ok(())
    }

    async fn read(&mut self) -> Result<Option<Vec<u8>>> {
        let pending = self
            .0
            .read()
            .map_err(|e| js_error("transport read failed", e))?;
        let value = settle(pending)
            .await
            .map_err(|e| js_error("transport read failed", e))?;
        if value.is_null() || value.is_undefined() {
            return Ok(None);
        }
        let bytes: Uint8Array = value.dyn_into().map_err(|_| {
            Error::Transport("transport read() must resolve to a Uint8Array or null".into())
        })?;
        Ok(Some(bytes.to_vec()))
    }

    async fn close(&mut self) -> Result<()> {
        // close() is optional in the JS interface.
        if js_sys::Reflect::has(&self.0, &"close".into()).unwrap_or(false) {
            let pending = self
                .0
                .close()
                .map_err(|e| js_error("transport close failed", e))?;
            settle(pending)
                .await
                .map_err(|e| js_error("transport close failed", e))?;
        }
        Ok(())
    }
}
