//! The tower service shared by the cookie layers: make a per-request handle from the
//! request headers, put it in the request extensions, and let it add `Set-Cookie` headers
//! once the inner service has answered.

/// Defines `$service<S>` for `$layer`: `$start(&layer, &headers, https) -> Handle` before
/// the inner call, `$finish(handle, &mut response_headers)` after it.
macro_rules! cookie_service {
    ($layer:ident, $service:ident, $doc:literal, $start:expr, $finish:expr) => {
        #[doc = $doc]
        #[derive(Clone)]
        pub struct $service<S> {
            inner: S,
            layer: $layer,
        }

        impl<S> std::fmt::Debug for $service<S> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($service))
                    .field("layer", &self.layer)
                    .finish_non_exhaustive()
            }
        }

        impl<S> tower_layer::Layer<S> for $layer {
            type Service = $service<S>;

            fn layer(&self, inner: S) -> Self::Service {
                $service {
                    inner,
                    layer: self.clone(),
                }
            }
        }

        impl<S, ReqBody, ResBody> tower_service::Service<http::Request<ReqBody>> for $service<S>
        where
            S: tower_service::Service<http::Request<ReqBody>, Response = http::Response<ResBody>>
                + Clone
                + Send
                + 'static,
            S::Future: Send + 'static,
            ReqBody: Send + 'static,
            ResBody: Send + 'static,
        {
            type Response = http::Response<ResBody>;
            type Error = S::Error;
            type Future = std::pin::Pin<
                Box<dyn std::future::Future<Output = Result<Self::Response, Self::Error>> + Send>,
            >;

            fn poll_ready(
                &mut self,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), Self::Error>> {
                self.inner.poll_ready(cx)
            }

            fn call(&mut self, mut req: http::Request<ReqBody>) -> Self::Future {
                // The clone is not ready; the ready one is used (tower's usual swap).
                let clone = self.inner.clone();
                let mut inner = std::mem::replace(&mut self.inner, clone);
                let https = req.uri().scheme_str() == Some("https");
                let handle = ($start)(&self.layer, req.headers(), https);
                req.extensions_mut().insert(handle.clone());
                Box::pin(async move {
                    let mut response = inner.call(req).await?;
                    ($finish)(handle, response.headers_mut());
                    Ok(response)
                })
            }
        }
    };
}

pub(crate) use cookie_service;
