-- Stores one alert record an edge node reported (alert.DecodeEdgeReport):
-- listed like the cloud's own, never queued for delivery. A record known
-- already changes only to a later delivery state (pending -> delivered or
-- dead, or more attempts); an alert fired in the cloud is left alone.
-- An alert of an erased device fired before its erasure is not stored
-- (an edge node may send it before it purges the device).
-- A record stored for the first time also appends its alert.fired
-- CloudEvent to the tenant's event log, in this script: the log holds it
-- once however often the record (or a later state of it) comes again.
-- With an event sink (capacity > 0) it also queues the event in the
-- tenant's event outbox (issue 16 layout, as alert_fire.lua), once too.
-- KEYS[1] alert hash, [2] alert index, [3] dead letters, [4] erasure tombstones,
-- [5] event log, [6] event outbox
-- ARGV[1] id, [2] rule, [3] name, [4] kind, [5] device, [6] fired ms,
-- [7] CloudEvent JSON, [8] state, [9] attempts, [10] status, [11] error,
-- [12] done ms (0: none), [13] node, [14] retention ms, [15] now ms,
-- [16] the device's tombstone field (its digest), [17] event log MINID,
-- [18] outbox capacity (0: no sink, nothing queued), [19] event type,
-- [20] event source, [21] event data JSON
-- Returns 0 added, 1 updated, 2 unchanged, 3 past the retention or erased;
-- error OUTBOXFULL before any write when a new record meets a full outbox.
local fired, retention, now = tonumber(ARGV[6]), tonumber(ARGV[14]), tonumber(ARGV[15])
local ttl = fired + retention - now
if ttl <= 0 then return 3 end
local erased = redis.call('HGET', KEYS[4], ARGV[16])
if erased and fired < tonumber(string.match(erased, '^%d+')) then return 3 end
local final = {delivered = 1, dead = 1}
local function rank(state) if final[state] then return 1 end return 0 end
local done = tonumber(ARGV[12])
local cur = redis.call('HMGET', KEYS[1], 'state', 'attempts', 'node')
if cur[1] then
  if not cur[3] or cur[3] == '' then return 2 end
  local had, got = rank(cur[1]), rank(ARGV[8])
  if got < had or (got == had and tonumber(ARGV[9]) <= tonumber(cur[2] or 0)) then return 2 end
  redis.call('HSET', KEYS[1], 'state', ARGV[8], 'attempts', ARGV[9], 'status', ARGV[10], 'error', ARGV[11])
  if done > 0 then redis.call('HSET', KEYS[1], 'done', ARGV[12]) end
  if ARGV[8] == 'dead' then redis.call('ZADD', KEYS[3], done, ARGV[1]) end
  return 1
end
local capacity = tonumber(ARGV[18])
if capacity > 0 and redis.call('XLEN', KEYS[6]) >= capacity then
  return redis.error_reply('OUTBOXFULL event outbox of the tenant holds ' .. capacity .. ' events')
end
redis.call('HSET', KEYS[1], 'rule', ARGV[2], 'name', ARGV[3], 'kind', ARGV[4], 'device', ARGV[5],
  'fired', ARGV[6], 'ce', ARGV[7], 'state', ARGV[8], 'attempts', ARGV[9], 'status', ARGV[10],
  'error', ARGV[11], 'since', ARGV[6], 'node', ARGV[13])
if done > 0 then redis.call('HSET', KEYS[1], 'done', ARGV[12]) end
redis.call('PEXPIRE', KEYS[1], ttl)
redis.call('ZADD', KEYS[2], fired, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. tostring(now - retention))
if ARGV[8] == 'dead' then redis.call('ZADD', KEYS[3], done, ARGV[1]) end
-- Appended now, after the entries already there (the log is in append
-- order): a reader tailing it by cursor gets it on its next page.
redis.call('XADD', KEYS[5], 'MINID', '~', ARGV[17], '*', 'ce', ARGV[7])
if capacity > 0 then
  redis.call('XADD', KEYS[6], '*', 'type', ARGV[19], 'id', ARGV[1], 'source', ARGV[20], 'subject', ARGV[5],
    'time', ARGV[6], 'trace', '', 'data', ARGV[21])
end
return 0
