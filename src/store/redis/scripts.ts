// The Lua scripts that apply the session merge rule (session/merge.ts) on the Redis server, so
// a commit is one atomic round trip however many nodes write the same session. Timestamps are
// compared byte by byte: Lua's `<` on strings follows the server's locale (strcoll), which
// need not be "C", and the HLC encoding only sorts in time order under byte order.

import { createHash } from 'node:crypto';

const HELPERS = `
local function lt(a, b)
  if a == b then return false end
  local n = math.min(#a, #b)
  local i = 1
  while i <= n do
    local j = math.min(i + 63, n)
    local x, y = string.sub(a, i, j), string.sub(b, i, j)
    if x ~= y then
      for k = 1, #x do
        local p, q = string.byte(x, k), string.byte(y, k)
        if p ~= q then return p < q end
      end
    end
    i = j + 1
  end
  return #a < #b
end
local function split(v)
  local p = string.find(v, '\\0', 1, true)
  if p then return string.sub(v, 1, p - 1), string.sub(v, p + 1) end
  return v, nil
end
-- true when the entry 'new' wins over 'old' (both "t\\0json", or "t" for a tombstone)
local function wins(old, new)
  if not old then return true end
  local ot, oj = split(old)
  local nt, nj = split(new)
  if ot ~= nt then return lt(ot, nt) end
  if oj == nj or oj == nil then return false end
  if nj == nil then return true end
  return lt(oj, nj)
end
local function num(v) if v and v ~= '' then return tonumber(v) end return nil end
local function deadline(c, a, i, x)
  local idle = 0
  if i then local _, v = split(i); idle = tonumber(v) or 0 end
  local d = (num(a) or num(c) or 0) + idle
  local ax = num(x) or 0
  if ax > 0 and ax < d then d = ax end
  return d
end
`;

/**
 * KEYS: session hash, expiry marker. ARGV: now, grace ms, tombstone ms, return-state flag,
 * invalidation channel ('' = publish nothing), invalidation message, then createdAt,
 * accessedAt, idle, absoluteExpiresAt, principal, destroyed ('' = absent), then attribute
 * field/value pairs. Returns { outcome, old principal, new principal, state }: outcome 0
 * nothing kept, 1 merged, 2 destroyed by this merge, 3 merged into a tombstone.
 *
 * Every run that writes the hash publishes the message, so near caches on other app nodes drop
 * the session (invalidation-channel.ts); a merge that changes no field still publishes, as
 * CLIENT TRACKING would: telling the two apart costs a comparison of every field.
 */
export const MERGE_SCRIPT = `${HELPERS}
local key, marker = KEYS[1], KEYS[2]
local now, grace, tomb = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local function changed()
  if ARGV[5] ~= '' then redis.call('PUBLISH', ARGV[5], ARGV[6]) end
end
local cur = redis.call('HMGET', key, 'm:c', 'm:a', 'm:i', 'm:x', 'm:p', 'm:d')
local existed = (cur[1] or cur[2] or cur[3] or cur[6]) and true or false
local oldP = cur[5] or ''
local dropped = false
if existed and not cur[6] and deadline(cur[1], cur[2], cur[3], cur[4]) <= now then
  -- Dead but not yet reclaimed (kept for the expired event): nothing may revive it. Reading
  -- the marker expires it now, which publishes the expired event if it had not fired yet.
  redis.call('EXISTS', marker)
  redis.call('DEL', key)
  cur = {false, false, false, false, false, false}
  existed = false
  dropped = true
end
local c, a, i, x, p, d = cur[1], cur[2], cur[3], cur[4], cur[5], cur[6]
if ARGV[7] ~= '' and (not c or tonumber(ARGV[7]) < tonumber(c)) then c = ARGV[7] end
if ARGV[8] ~= '' and (not a or tonumber(ARGV[8]) > tonumber(a)) then a = ARGV[8] end
if ARGV[9] ~= '' and wins(i, ARGV[9]) then i = ARGV[9] end
if ARGV[10] ~= '' then
  local nx, ox = tonumber(ARGV[10]), num(x)
  if ox == nil or (nx > 0 and (ox == 0 or nx < ox)) then x = ARGV[10] end
end
if ARGV[11] ~= '' and wins(p, ARGV[11]) then p = ARGV[11] end
if ARGV[12] ~= '' and (not d or lt(d, ARGV[12])) then d = ARGV[12] end
local dl = deadline(c, a, i, x)
local meta = {}
if c then table.insert(meta, 'm:c'); table.insert(meta, c) end
if a then table.insert(meta, 'm:a'); table.insert(meta, a) end
if i then table.insert(meta, 'm:i'); table.insert(meta, i) end
if x then table.insert(meta, 'm:x'); table.insert(meta, x) end
if d then
  -- The destroy tombstone wins over everything: attributes and principal go for good, and it
  -- is kept until the session could no longer have been valid.
  local outcome = 3
  if existed and not cur[6] then outcome = 2 end
  redis.call('DEL', key, marker)
  table.insert(meta, 'm:d'); table.insert(meta, d)
  redis.call('HSET', key, unpack(meta))
  local keep = dl
  if keep < now + tomb then keep = now + tomb end
  redis.call('PEXPIREAT', key, keep)
  changed()
  return {outcome, oldP, '', false}
end
if not existed and dl <= now then
  if dropped then changed() end
  return {0, '', '', false}
end
if p then table.insert(meta, 'm:p'); table.insert(meta, p) end
local n = #ARGV
if n >= 13 then
  local fields = {}
  for k = 13, n, 2 do table.insert(fields, ARGV[k]) end
  local olds = redis.call('HMGET', key, unpack(fields))
  for k = 13, n, 2 do
    if wins(olds[(k - 11) / 2], ARGV[k + 1]) then
      table.insert(meta, ARGV[k]); table.insert(meta, ARGV[k + 1])
    end
  end
end
redis.call('HSET', key, unpack(meta))
if dl > now then
  redis.call('SET', marker, '', 'PXAT', dl)
end
redis.call('PEXPIREAT', key, dl + grace)
changed()
local state = false
if ARGV[4] == '1' then state = redis.call('HGETALL', key) end
local newP = p or ''
return {1, oldP, newP, state}
`;

/**
 * Claims the expired event of one session for this app node (KEYS: session hash, claim key;
 * ARGV: now, claim ms). Every app node hears the expiry on every master; the first to claim
 * fires the event. Returns the session's principal ('' for none) or false: not expired (touched
 * since, destroyed) or claimed by another node.
 *
 * It publishes no invalidation: it writes only the claim key and leaves the session hash as it
 * was. Nor does Redis when the hash itself expires (deadline + grace): a near-cached copy of it
 * is dead by its own fields from the same deadline, and reads check that.
 */
export const CLAIM_EXPIRED_SCRIPT = `${HELPERS}
local h = redis.call('HMGET', KEYS[1], 'm:c', 'm:a', 'm:i', 'm:x', 'm:p', 'm:d')
if h[6] then return false end
if (h[1] or h[2]) and deadline(h[1], h[2], h[3], h[4]) > tonumber(ARGV[1]) then return false end
if not redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return false end
return h[5] or ''
`;

export interface Script {
  source: string;
  sha: string;
}

function script(source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') };
}

export const MERGE = script(MERGE_SCRIPT);
export const CLAIM_EXPIRED = script(CLAIM_EXPIRED_SCRIPT);
