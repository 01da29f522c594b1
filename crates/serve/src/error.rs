//! Errors: [`ServeError`] for starting the service, [`ApiError`] for a request (a status and a
//! JSON body `{"error": "..."}`).

use crate::store::StoreError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use std::fmt::Display;

/// Why the service could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Runtime(std::io::Error),
    #[error("the model cannot embed a test image: {0}")]
    Model(String),
}

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Display) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message.to_string())
    }

    pub fn internal(message: impl Display) -> Self {
        tracing::error!("{message}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, message.to_string())
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Dim { .. } | StoreError::NonFinite { .. } | StoreError::Empty { .. } => {
                Self::bad_request(e)
            }
            StoreError::Milvus { .. } => {
                tracing::error!("{e}");
                Self::new(StatusCode::BAD_GATEWAY, e.to_string())
            }
            StoreError::Io { .. } | StoreError::Corrupt { .. } | StoreError::ModelDim { .. } => {
                Self::internal(e)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}
