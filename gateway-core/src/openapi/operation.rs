//! What the document says about one operation (a route and a method),
//! gathered from the route's settings and policies before it is written
//! out as an OpenAPI Operation Object.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

/// An OpenAPI document that a `validate` policy checks requests against;
/// its operations replace the route's generic one in the document.
#[derive(Debug, Clone)]
pub struct Fragment {
    /// The document (OpenAPI 3.0 or 3.1).
    pub doc: Value,
    /// The request-path prefix its paths leave out.
    pub strip_prefix: Option<String>,
}

/// Notes about one operation, filled in by the route's settings and by
/// [`describe_policy`](super::policies::describe_policy) for each policy.
#[derive(Debug, Clone, Default)]
pub struct OperationNotes {
    /// The HTTP method, upper case.
    pub method: String,
    /// Parameter Objects (query, header, cookie; path parameters come
    /// from the route pattern).
    pub parameters: Vec<Value>,
    /// The Request Body Object.
    pub request_body: Option<Value>,
    /// Content of the success (`2XX`) response, by media type.
    pub success_content: Option<Value>,
    /// Security Requirement Objects: any one of them is enough. Empty
    /// means the operation needs no credentials.
    pub security: Vec<Value>,
    /// Security Scheme Objects the requirements name, by name.
    pub security_schemes: BTreeMap<String, Value>,
    /// Error statuses the gateway may answer with (problem+json).
    pub errors: BTreeSet<u16>,
    /// Sentences for the operation's description, in order.
    pub notes: Vec<String>,
    /// Whether the operation is deprecated.
    pub deprecated: bool,
    /// The upstream OpenAPI document whose operations describe this route.
    pub fragment: Option<Fragment>,
}

impl OperationNotes {
    /// Notes for `method` with nothing known yet.
    pub fn new(method: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            ..Self::default()
        }
    }

    /// Adds a Parameter Object unless one with the same `in` and `name`
    /// is there already.
    pub fn add_parameter(&mut self, param: Value) {
        let same = |p: &Value| p["in"] == param["in"] && p["name"] == param["name"];
        if !self.parameters.iter().any(same) {
            self.parameters.push(param);
        }
    }

    /// A parameter for each property of an object JSON Schema (`query` or
    /// `header`), required when the schema lists it in `required`.
    pub fn add_object_parameters(&mut self, location: &str, schema: &Value) {
        let required: BTreeSet<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        for (name, s) in schema["properties"].as_object().into_iter().flatten() {
            self.add_parameter(json!({
                "name": name,
                "in": location,
                "required": required.contains(name.as_str()),
                "schema": s,
            }));
        }
    }
}
