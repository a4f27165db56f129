// The Upstash store's Redis layout and its Lua scripts: every key name the store writes (see
// docs/storage.md) and the scripts that check and consume them atomically.

const NS = 'kg';
/**
 * An owner's Redis hash tag: every key one owner admission touches (the owner's windows and
 * budget, its keys' windows, budgets and marker copies) carries it, so they share one hash
 * slot and one script may touch them all. Every UTF-16 unit of the name outside [A-Za-z0-9._~-]
 * becomes `%` and four hex digits: no `{`, `}` or `:` of an owner's name reaches the key, two
 * names never share a tag, and no string (not even a lone surrogate) makes encoding throw.
 */
export const ownerTag = (owner: string): string => `{o:${owner.replace(/[^A-Za-z0-9._~-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}}`;
/** A key's counter identifier: its counter id, inside its owner's slot when the owner has limits. */
export const keyCounterId = (counterId: string, owner: string | undefined) => (owner === undefined ? counterId : `${ownerTag(owner)}:${counterId}`);
export const creditsKey = (id: string) => `${NS}:credits:${id}`;
export const leaseKey = (id: string) => `${NS}:lease:${id}`;
export const revokedKey = (keyId: string, owner?: string) => (owner === undefined ? `${NS}:revoked:${keyId}` : `${NS}:revoked:${ownerTag(owner)}:${keyId}`);
export const budgetKey = (keyId: string, periodKey: string) => `${NS}:budget:${keyId}:${periodKey}`;
// In the owner's slot when the owner has limits (the tag comes first, so no brace in a token id
// picks the slot); read and written only when the request carries a token id.
export const replayKey = (keyId: string, id: string, owner?: string) => (owner === undefined ? `${NS}:jti:${keyId}:${id}` : `${NS}:jti:${ownerTag(owner)}:${keyId}:${id}`);
export const counterPrefix = (name: string) => `${NS}:rl:${name}`;
// Same layout @upstash/ratelimit's fixed window uses: <prefix>:<identifier>:<bucket>.
export const counterKey = (name: string, keyId: string, bucket: number) => `${counterPrefix(name)}:${keyId}:${bucket}`;

// KEYS[1] revocation marker, KEYS[2] a signed request's token id; ARGV[1] token id TTL ms
// (0 = no token). Then one section per holder (the key; its owner when the owner has limits):
// KEYS budget key, then one fixed window per counter; ARGV[2] holder count, and per holder: has budget (0/1), budget limit, budget cost, budget TTL ms (0 = none), counter
// count n, then per counter: limit, cost, window ms.
// Then the key's credits: KEYS its balance hash; ARGV has credits (0/1), cost, initial balance,
// refill amount (-1 = none), refill period ('' = none).
// Then the lease: KEYS the key's and the owner's lease sets (scores: expiry ms); ARGV lease id
// ('' = none), expiry ms, now ms, key max, owner max (-1 = no cap).
// -4 in the reply's status: too many in flight (holder, then the cap in the third slot).
// Returns {-1, reason} blocked | {-5} token id seen (checked before anything is consumed, so a
// replayed token consumes nothing) | {0, holder, refused index, per holder: spent, used..., credits}
// rate limited | {-2, holder, 0, ...} budget refused | {-3, 0, 0, ...} credits spent
// | {1, 0, 0, per holder: spent after, used after..., credits after}; credits -1 when none.
export const ADMIT_SCRIPT = `
local blocked = redis.call('GET', KEYS[1])
if blocked then return {-1, blocked} end
local replayTtl = tonumber(ARGV[1])
if replayTtl > 0 and redis.call('EXISTS', KEYS[2]) == 1 then return {-5} end
local holders = {}
local ki, ai = 3, 3
for h = 1, tonumber(ARGV[2]) do
  local hd = {budgetKey = KEYS[ki], hasBudget = ARGV[ai] == '1', limit = tonumber(ARGV[ai + 1]), cost = tonumber(ARGV[ai + 2]), ttl = tonumber(ARGV[ai + 3]), n = tonumber(ARGV[ai + 4]), keys = {}, limits = {}, costs = {}, windows = {}, used = {}, spent = 0}
  ki = ki + 1
  ai = ai + 5
  for i = 1, hd.n do
    hd.keys[i] = KEYS[ki]
    hd.limits[i] = tonumber(ARGV[ai])
    hd.costs[i] = tonumber(ARGV[ai + 1])
    hd.windows[i] = ARGV[ai + 2]
    ki = ki + 1
    ai = ai + 3
  end
  holders[h] = hd
end
local credits = nil
if ARGV[ai] == '1' then
  credits = {key = KEYS[ki], cost = tonumber(ARGV[ai + 1]), refill = tonumber(ARGV[ai + 3]), period = ARGV[ai + 4]}
  local stored = redis.call('HMGET', credits.key, 'remaining', 'period')
  local storedPeriod = stored[2] or ''
  if not stored[1] then credits.balance = tonumber(ARGV[ai + 2])
  elseif credits.refill >= 0 and (#storedPeriod ~= #credits.period or storedPeriod < credits.period) then credits.balance = credits.refill
  else
    credits.balance = tonumber(stored[1])
    -- A later stored period stays: refillDue in credits.ts.
    if credits.refill >= 0 then credits.period = storedPeriod end
  end
end
ki = ki + 1
ai = ai + 5
local lease = nil
if ARGV[ai] ~= '' then
  lease = {id = ARGV[ai], expires = tonumber(ARGV[ai + 1]), now = tonumber(ARGV[ai + 2]), caps = {}}
  local maxes = {tonumber(ARGV[ai + 3]), tonumber(ARGV[ai + 4])}
  for h = 1, 2 do
    if maxes[h] >= 0 then
      local k = KEYS[ki + h - 1]
      redis.call('ZREMRANGEBYSCORE', k, '-inf', lease.now)
      lease.caps[#lease.caps + 1] = {key = k, holder = h, max = maxes[h], count = redis.call('ZCARD', k)}
    end
  end
end
local status, refusedHolder, refused = 1, 0, 0
for h, hd in ipairs(holders) do
  for i = 1, hd.n do
    local u = tonumber(redis.call('GET', hd.keys[i]) or '0')
    hd.used[i] = u
    if status == 1 and u + hd.costs[i] > hd.limits[i] then status, refusedHolder, refused = 0, h, i end
  end
  if hd.hasBudget then hd.spent = tonumber(redis.call('GET', hd.budgetKey) or '0') end
end
if status == 1 then
  for h, hd in ipairs(holders) do
    if hd.hasBudget and hd.spent + hd.cost > hd.limit then
      status, refusedHolder = -2, h
      break
    end
  end
end
if status == 1 and credits and credits.balance < credits.cost then status = -3 end
if status == 1 and lease then
  for _, cap in ipairs(lease.caps) do
    if cap.count >= cap.max then
      status, refusedHolder, refused = -4, cap.holder, cap.max
      break
    end
  end
end
if status == 1 then
  if lease then
    for _, cap in ipairs(lease.caps) do
      redis.call('ZADD', cap.key, lease.expires, lease.id)
      redis.call('PEXPIREAT', cap.key, lease.expires)
    end
  end
  if credits then
    credits.balance = credits.balance - credits.cost
    redis.call('HSET', credits.key, 'remaining', credits.balance, 'period', credits.period)
  end
  for _, hd in ipairs(holders) do
    for i = 1, hd.n do
      hd.used[i] = redis.call('INCRBY', hd.keys[i], hd.costs[i])
      if redis.call('PTTL', hd.keys[i]) < 0 then redis.call('PEXPIRE', hd.keys[i], hd.windows[i]) end
    end
    if hd.hasBudget then
      hd.spent = redis.call('INCRBY', hd.budgetKey, hd.cost)
      if hd.ttl > 0 then redis.call('PEXPIRE', hd.budgetKey, hd.ttl) end
    end
  end
  if replayTtl > 0 then redis.call('SET', KEYS[2], '1', 'PX', replayTtl) end
end
local reply = {status, refusedHolder, refused}
for _, hd in ipairs(holders) do
  reply[#reply + 1] = hd.spent
  for i = 1, hd.n do reply[#reply + 1] = hd.used[i] end
end
if credits then reply[#reply + 1] = credits.balance else reply[#reply + 1] = -1 end
return reply
`;

// Undoes an admission. KEYS[1] key lease set, KEYS[2] owner lease set, KEYS[3] credits hash,
// then request windows to give one back each. ARGV[1] lease id ('' = none), ARGV[2] refund (0/1),
// ARGV[3] credits to give back.
export const RELEASE_SCRIPT = `
if ARGV[1] ~= '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
end
if ARGV[2] ~= '1' then return 0 end
for i = 4, #KEYS do
  if redis.call('DECR', KEYS[i]) < 0 then redis.call('SET', KEYS[i], 0, 'KEEPTTL') end
end
local credits = tonumber(ARGV[3])
if credits > 0 and redis.call('EXISTS', KEYS[3]) == 1 then redis.call('HINCRBY', KEYS[3], 'remaining', credits) end
return 1
`;

// KEYS[1] a key's credit balance hash. ARGV: initial balance, refill amount (-1 = none),
// refill period, 'add' | 'set', amount, maximum. Returns the balance after the change.
export const CREDITS_CHANGE_SCRIPT = `
local stored = redis.call('HMGET', KEYS[1], 'remaining', 'period')
local storedPeriod = stored[2] or ''
local period = ARGV[3]
local balance
if not stored[1] then balance = tonumber(ARGV[1])
elseif tonumber(ARGV[2]) >= 0 and (#storedPeriod ~= #period or storedPeriod < period) then balance = tonumber(ARGV[2])
else
  balance = tonumber(stored[1])
  -- A later stored period stays: refillDue in credits.ts.
  if tonumber(ARGV[2]) >= 0 then period = storedPeriod end
end
if ARGV[4] == 'add' then balance = balance + tonumber(ARGV[5]) else balance = tonumber(ARGV[5]) end
if balance < 0 then balance = 0 end
if balance > tonumber(ARGV[6]) then balance = tonumber(ARGV[6]) end
redis.call('HSET', KEYS[1], 'remaining', balance, 'period', period)
return balance
`;

// KEYS[1] budget. ARGV[1] delta (may be negative). Never below zero.
export const BUDGET_ADJUST_SCRIPT = `
local after = redis.call('INCRBY', KEYS[1], ARGV[1])
if after < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') return 0 end
return after
`;
