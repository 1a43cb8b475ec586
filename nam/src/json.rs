//! Typed access to config objects with errors that name the key, and bounds on sizes so a
//! hostile file cannot make us allocate gigabytes.

use serde_json::{Map, Value};

use crate::error::{NamError, Result};

/// Upper bounds on sizes read from files (well above any real model).
pub const MAX_CHANNELS: usize = 1024;
pub const MAX_KERNEL: usize = 4096;
pub const MAX_DILATION: usize = 1 << 16;
pub const MAX_LAYERS: usize = 1024;
pub const MAX_RECEPTIVE_FIELD: usize = 1 << 22;

pub fn object<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    v.as_object().ok_or_else(|| NamError::config(format!("`{what}` must be an object")))
}

pub fn opt<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    o.get(key).filter(|v| !v.is_null())
}

pub fn usize_value(v: &Value, key: &str, limit: usize) -> Result<usize> {
    let n = match v {
        Value::Number(n) => {
            n.as_u64().or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64))
        }
        _ => None,
    }
    .ok_or_else(|| NamError::config(format!("`{key}` must be a non-negative integer, got {v}")))?;
    if n as u128 > limit as u128 {
        return Err(NamError::TooLarge { what: format!("`{key}`"), value: n.min(usize::MAX as u64) as usize, limit });
    }
    Ok(n as usize)
}

pub fn req_usize(o: &Map<String, Value>, key: &str, limit: usize) -> Result<usize> {
    usize_value(opt(o, key).ok_or_else(|| NamError::config(format!("missing key `{key}`")))?, key, limit)
}

pub fn positive(o: &Map<String, Value>, key: &str, limit: usize) -> Result<usize> {
    let n = req_usize(o, key, limit)?;
    if n == 0 {
        return Err(NamError::config(format!("`{key}` must be at least 1")));
    }
    Ok(n)
}

pub fn opt_usize(o: &Map<String, Value>, key: &str, default: usize, limit: usize) -> Result<usize> {
    match opt(o, key) {
        None => Ok(default),
        Some(v) => usize_value(v, key, limit),
    }
}

pub fn opt_bool(o: &Map<String, Value>, key: &str, default: bool) -> Result<bool> {
    match opt(o, key) {
        None => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(v) => Err(NamError::config(format!("`{key}` must be a boolean, got {v}"))),
    }
}

pub fn usize_list(v: &Value, key: &str, limit: usize) -> Result<Vec<usize>> {
    let a = v.as_array().ok_or_else(|| NamError::config(format!("`{key}` must be an array")))?;
    if a.len() > MAX_LAYERS {
        return Err(NamError::TooLarge { what: format!("length of `{key}`"), value: a.len(), limit: MAX_LAYERS });
    }
    a.iter().map(|x| usize_value(x, key, limit)).collect()
}
