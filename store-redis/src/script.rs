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

/// One rate-limit decision, the same math as `gateway_core::ratelimit`
/// (see its `step`, `gcra` and `sliding_window` modules), on the gateway's
/// clock passed in `ARGV[2]` so every store agrees on windows.
///
/// `KEYS[1]` state key. `ARGV[1]` `g` (GCRA: `ARGV[3]` interval ms,
/// `ARGV[4]` burst) or `w` (window: `ARGV[3]` start ms, `ARGV[4]` end ms,
/// `ARGV[5]` limit, `ARGV[6]` `1` when sliding). State is the text
/// `g:TAT` or `w:START:CURRENT:PREVIOUS`. Returns `{allowed (1|0), state}`;
/// only an allowed request writes. Numbers are Lua doubles, exact below
/// 2^53: the gateway refuses sliding windows whose `limit * window_ms` is
/// larger, and times are Unix ms.
const RATE_LIMIT: &str = r"
local now = tonumber(ARGV[2])
local raw = redis.call('GET', KEYS[1])
local function fmt(n) return string.format('%.0f', n) end
local function store(state, until_ms)
  redis.call('SET', KEYS[1], state, 'PX', fmt(math.max(until_ms - now, 1)))
end
if ARGV[1] == 'g' then
  local t, burst = tonumber(ARGV[3]), tonumber(ARGV[4])
  local tat = now
  if raw then
    local v = string.match(raw, '^g:(%d+)$')
    if v then tat = math.max(tonumber(v), now) end
  end
  local nxt = tat + t
  if nxt - now <= t * burst then
    local state = 'g:' .. fmt(nxt)
    store(state, nxt)
    return {1, state}
  end
  return {0, 'g:' .. fmt(tat)}
end
local start, stop, limit = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local sliding = ARGV[6] == '1'
local len = math.max(stop - start, 1)
local cur, prev = 0, 0
if raw then
  local s, c, p = string.match(raw, '^w:(%d+):(%d+):(%d+)$')
  if s then
    s, c, p = tonumber(s), tonumber(c), tonumber(p)
    if s == start then
      cur, prev = c, p
    elseif sliding and s + len == start then
      cur, prev = 0, c
    end
  end
end
local carried = 0
if sliding then carried = prev * math.min(math.max(stop - now, 0), len) end
local allowed = 0
if carried + (cur + 1) * len <= limit * len then
  allowed = 1
  cur = cur + 1
end
local state = 'w:' .. fmt(start) .. ':' .. fmt(cur) .. ':' .. fmt(prev)
if allowed == 1 then
  if sliding then store(state, stop + len) else store(state, stop) end
end
return {allowed, state}
";

/// The store's scripts, hashed once; run with `EVALSHA`, loaded on demand.
pub(crate) struct Scripts {
    /// See [`INCR`].
    pub(crate) incr: Script,
    /// See [`COMPARE_AND_SWAP`].
    pub(crate) compare_and_swap: Script,
    /// See [`RATE_LIMIT`].
    pub(crate) rate_limit: Script,
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            incr: Script::new(INCR),
            compare_and_swap: Script::new(COMPARE_AND_SWAP),
            rate_limit: Script::new(RATE_LIMIT),
        }
    }
}
