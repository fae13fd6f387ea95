//! Lua scripts that make counters and compare-and-swap atomic on the server.
//!
//! Arguments stay strings inside Lua: Redis turns Lua numbers into doubles,
//! which would lose precision for large counters and expiry times.

use redis::Script;

/// Adds to a counter and sets its expiry only when this call created it.
///
/// `KEYS[1]` counter, `ARGV[1]` delta, `ARGV[2]` TTL in ms or `''` for none.
/// Returns the new value as a string, or nil when the current value is not
/// an integer. Overflow saturates, as the in-memory store does.
const INCR: &str = r"
local existed = redis.call('EXISTS', KEYS[1]) == 1
local r = redis.pcall('INCRBY', KEYS[1], ARGV[1])
if type(r) == 'table' and r.err then
  if string.find(r.err, 'overflow', 1, true) then
    local limit = '9223372036854775807'
    if string.sub(ARGV[1], 1, 1) == '-' then limit = '-9223372036854775808' end
    redis.call('SET', KEYS[1], limit, 'KEEPTTL')
    return limit
  end
  if string.find(r.err, 'WRONGTYPE', 1, true) or string.find(r.err, 'not an integer', 1, true) then
    return false
  end
  return r
end
local value = redis.call('GET', KEYS[1])
if not existed and ARGV[2] ~= '' then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return value
";

/// Writes a value only if the current one is as expected.
///
/// `KEYS[1]` key, `ARGV[1]` `'1'` when a value is expected (`'0'`: absent),
/// `ARGV[2]` expected value, `ARGV[3]` new value, `ARGV[4]` TTL in ms, `''`
/// for none, `'0'` for already expired. Returns 1 if written, else 0.
const COMPARE_AND_SWAP: &str = r"
local current = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if current ~= ARGV[2] then return 0 end
elseif current then
  return 0
end
if ARGV[4] == '' then
  redis.call('SET', KEYS[1], ARGV[3])
elseif ARGV[4] == '0' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
end
return 1
";

/// The store's scripts, hashed once; run with `EVALSHA`, loaded on demand.
pub(crate) struct Scripts {
    /// See [`INCR`].
    pub(crate) incr: Script,
    /// See [`COMPARE_AND_SWAP`].
    pub(crate) compare_and_swap: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            incr: Script::new(INCR),
            compare_and_swap: Script::new(COMPARE_AND_SWAP),
        }
    }
}
